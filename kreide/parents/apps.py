from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParentsConfig(AppConfig):
    name = "kreide.parents"
    label = "parents"
    verbose_name = _("Parents")

    def ready(self) -> None:
        from kreide.accounts import services as account_services
        from kreide.core import navigation
        from kreide.dashboard.registry import Section, register
        from kreide.parents import dashboard, exports, services  # noqa: F401 - exports registers

        account_services.register_parent_linker(services.link_imported)

        navigation.register(_("My children"), "parents:home", 15, dashboard.is_parent)
        navigation.register(_("Absences"), "parents:absences", 75, dashboard.reads_absences)
        register(
            Section(
                "children", _("My children"), "parents/section_children.html", 5, dashboard.children
            )
        )
