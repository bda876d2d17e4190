from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class StartWindow(SchoolScopedModel):
    """When a class, or a range of grades, starts on a given day (staggered start at 8:00)."""

    day = models.DateField(_("day"), db_index=True)
    starts_at = models.TimeField(_("starts at"))
    grade_from = models.PositiveSmallIntegerField(_("from grade"), null=True, blank=True)
    grade_to = models.PositiveSmallIntegerField(_("to grade"), null=True, blank=True)
    group = models.ForeignKey(
        "schools.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("class"),
    )

    class Meta(SchoolScopedModel.Meta):
        ordering = ["day", "starts_at", "grade_from", "pk"]
        verbose_name = _("start window")
        verbose_name_plural = _("start windows")
        constraints = [
            models.CheckConstraint(
                name="schedule_window_grades_or_class",
                condition=(
                    Q(group__isnull=False, grade_from__isnull=True, grade_to__isnull=True)
                    | Q(group__isnull=True, grade_from__isnull=False, grade_to__isnull=False)
                ),
            )
        ]
