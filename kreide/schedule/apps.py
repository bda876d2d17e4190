from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScheduleConfig(AppConfig):
    name = "kreide.schedule"
    label = "schedule"
    verbose_name = _("Staggered start")

    def ready(self) -> None:
        from kreide.core import clock, fragments
        from kreide.dashboard.registry import Section, register
        from kreide.schedule import services, views
        from kreide.schedule.models import StartWindow

        register(
            Section(
                "start",
                _("Start of the day"),
                "schedule/section_start.html",
                5,
                views.dashboard_section,
                entries=lambda request: services.schedule_fragments(
                    request.user, clock.local_today(request)
                ),
            )
        )
        fragments.feeds(StartWindow, services.window_scopes)
