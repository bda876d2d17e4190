from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TimetableConfig(AppConfig):
    name = "kreide.timetable"
    label = "timetable"
    verbose_name = _("Timetable")

    def ready(self) -> None:
        from kreide.api import registry as api_registry
        from kreide.core import fragments, navigation, pagecache
        from kreide.dashboard.registry import Section, register
        from kreide.schools.models import Group, School, Subject
        from kreide.timetable import api, calendars, services, views
        from kreide.timetable.models import (
            CalendarSettings,
            Event,
            Lesson,
            Period,
            Room,
            Substitution,
        )

        navigation.register(_("Timetable"), "timetable:my_day", order=5)
        pagecache.register(views.page_keys)
        register(
            Section(
                "substitutions",
                _("Substitution plan"),
                "timetable/section_substitutions.html",
                3,
                views.dashboard_section,
                views.dashboard_scopes,
                views.dashboard_entries,
                views.dashboard_kept,
            )
        )
        register(
            Section(
                "dates",
                _("Dates"),
                "timetable/section_dates.html",
                6,
                views.dates_section,
                entries=views.dates_entries,
                kept=views.dates_kept,
            )
        )
        # What the cached week, substitution plan and calendar show (plans.py, calendars.py).
        for model in (Lesson, Period):
            fragments.feeds(model, lambda row: [services.timetable_scope(row.school_id)])
        fragments.feeds(Substitution, lambda row: [services.substitutions_scope(row.school_id)])
        for model in (Room, Subject, Group):
            fragments.feeds(model, services.plan_scopes)
        for model in (Event, CalendarSettings, Group):
            fragments.feeds(model, calendars.calendar_scopes)
        fragments.feeds(School, lambda school: [services.screen_scope(school.pk)])
        api_registry.register_routes("timetable/", "kreide.timetable.api")
        api_registry.register_document(paths=api.PATHS, security_schemes=api.SECURITY_SCHEMES)
