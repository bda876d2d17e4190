from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolYearConfig(AppConfig):
    name = "kreide.schoolyear"
    label = "schoolyear"
    verbose_name = _("School year")

    def ready(self) -> None:
        from kreide.accounts import gate
        from kreide.core import fragments, navigation
        from kreide.schools.models import Group
        from kreide.schoolyear import archive, exports  # noqa: F401 - registers the models
        from kreide.schoolyear.services import archive_scope

        navigation.register(
            _("Archive"), "schoolyear:archives", 85, archive.has_archives, former_students=True
        )
        # Who has archives changes when a class is archived (the rollover, or by hand).
        fragments.feeds(
            Group, lambda group: [archive_scope(group.school_id)] if group.archived_year else []
        )
        # Graduates and leavers keep reading their old classes (docs/school-year.md).
        gate.open_to_former_students(
            "schoolyear:archives", "schoolyear:archive", "schoolyear:archive_file"
        )
