from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolsConfig(AppConfig):
    name = "kreide.schools"
    label = "schools"
    verbose_name = _("Schools, classes and groups")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from kreide.dashboard.registry import Section, register
        from kreide.schools import dashboard

        register(Section("news", _("School news"), "schools/section_news.html", 90, dashboard.news))
        post_save.connect(dashboard.announcement_changed, sender="schools.Announcement")
        post_delete.connect(dashboard.announcement_changed, sender="schools.Announcement")
        register(
            Section(
                "groups",
                _("My classes and groups"),
                "schools/section_groups.html",
                80,
                dashboard.my_groups,
            )
        )
