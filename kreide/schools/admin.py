from django.contrib import admin

from kreide.schools.models import Group, School, Subject


class OperatorOnly(admin.ModelAdmin):
    def has_module_permission(self, request):
        return request.user.is_superuser


@admin.register(School)
class SchoolAdmin(OperatorOnly):
    list_display = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Group)
class GroupAdmin(OperatorOnly):
    list_display = ("name", "kind", "school")
    list_filter = ("school", "kind")


admin.site.register(Subject, OperatorOnly)
