from django.contrib import admin

from kreide.video.models import MediaServer


@admin.register(MediaServer)
class MediaServerAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "capacity", "enabled", "healthy", "last_check", "last_error"]
    readonly_fields = ["healthy", "last_check", "last_error"]
