from django.contrib import admin

from kreide.status.models import Incident


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("text", "level", "started_at", "ended_at")
    list_filter = ("level",)

    def has_module_permission(self, request) -> bool:
        return request.user.is_superuser
