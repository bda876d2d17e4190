from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParentsConfig(AppConfig):
    name = "kreide.parents"
    label = "parents"
    verbose_name = _("Parents")

    def ready(self) -> None:
        from kreide.core import navigation
        from kreide.dashboard.registry import Section, register
        from kreide.parents import dashboard, exports  # noqa: F401 - registers the models

        navigation.register(_("My children"), "parents:home", 15, dashboard.is_parent)
        navigation.register(_("Absences"), "parents:absences", 75, dashboard.reads_absences)
        register(
            Section(
                "children", _("My children"), "parents/section_children.html", 5, dashboard.children
            )
        )
