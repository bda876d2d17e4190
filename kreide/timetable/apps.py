from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimetableConfig(AppConfig):
    name = "kreide.timetable"
    label = "timetable"
    verbose_name = _("Timetable")

    def ready(self) -> None:
        from kreide.core import navigation
        from kreide.dashboard.registry import Section, register
        from kreide.timetable import views

        navigation.register(_("Timetable"), "timetable:my_day", order=5)
        register(
            Section(
                "substitutions",
                _("Substitution plan"),
                "timetable/section_substitutions.html",
                3,
                views.dashboard_section,
            )
        )
        register(
            Section("dates", _("Dates"), "timetable/section_dates.html", 6, views.dates_section)
        )
