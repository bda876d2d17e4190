from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VideoConfig(AppConfig):
    name = "kreide.video"
    label = "video"
    verbose_name = _("Video lessons")

    def ready(self) -> None:
        from kreide.core import banners, fragments, navigation, pagecache
        from kreide.core import health as core_health
        from kreide.dashboard.registry import Section, register
        from kreide.schools.models import Group
        from kreide.video import health, hooks, services
        from kreide.video.models import VideoLesson

        navigation.register(_("Video lessons"), "video:list", order=40, visible=hooks.nav_visible)
        register(
            Section(
                "video",
                _("Today's video lessons"),
                "video/section.html",
                40,
                hooks.dashboard_section,
                entries=hooks.dashboard_entries,
                kept=hooks.dashboard_kept,
                probes=hooks.dashboard_probes,
            )
        )
        banners.register(hooks.video_banner)
        pagecache.register(lambda request: [services.HEALTH_KEY])
        fragments.feeds(VideoLesson, services.lesson_scopes)
        fragments.feeds(Group, lambda group: [services.group_lessons_scope(group.pk)])
        core_health.register("video", _("Video"), health.check, order=50)
