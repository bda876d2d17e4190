from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolsConfig(AppConfig):
    name = "kreide.schools"
    label = "schools"
    verbose_name = _("Schools, classes and groups")

    def ready(self) -> None:
        from kreide.dashboard.registry import Section, register
        from kreide.schools import dashboard

        register(
            Section(
                "groups",
                _("My classes and groups"),
                "schools/section_groups.html",
                80,
                dashboard.my_groups,
                kept=dashboard.groups_kept,
            )
        )
