"""Django's admin is the operators' tool for the whole deployment (superusers only);
school admins use Kreide's own school admin pages, which are scoped to their school."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from kreide.accounts.models import User
from kreide.core.http import is_safe_next


def operator_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """Operators sign in where everybody does, under the same lockout and two-factor step:
    Django's own admin sign-in form has neither."""
    if request.user.is_authenticated:
        raise PermissionDenied  # signed in, but not an operator
    next_url = request.GET.get("next")
    return redirect_to_login(
        next_url if is_safe_next(request, next_url) else reverse("admin:index"),
        reverse("accounts:login"),
    )


admin.site.login = operator_login


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
