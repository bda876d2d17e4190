from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolYearConfig(AppConfig):
    name = "kreide.schoolyear"
    label = "schoolyear"
    verbose_name = _("School year")

    def ready(self) -> None:
        from kreide.core import navigation
        from kreide.schoolyear import archive, exports  # noqa: F401 - registers the models

        navigation.register(_("Archive"), "schoolyear:archives", 85, archive.has_archives)
