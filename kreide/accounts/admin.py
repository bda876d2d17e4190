"""Django's admin is the operators' tool for the whole deployment (superusers only);
school admins use Kreide's own school admin pages, which are scoped to their school."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from kreide.accounts.models import User


@admin.register(User)
class KreideUserAdmin(UserAdmin):
    list_display = ("username", "first_name", "last_name", "school", "role", "is_active")
    list_filter = ("school", "role", "is_active")
    list_select_related = ("school",)
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Kreide", {"fields": ("school", "role", "must_change_password")}),
    )

    def has_module_permission(self, request):
        return request.user.is_superuser
