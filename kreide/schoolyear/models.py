"""The school year and the rules its rollover follows.

`SchoolYear` is the year's span (its holidays are the calendar's, kreide.timetable);
`RolloverRule` is how classes move up, `ClassException` a class that does not follow it,
`Leaver` a student who leaves the school at the rollover.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class SchoolYear(SchoolScopedModel):
    label = models.CharField(_("school year"), max_length=9, help_text=_("e.g. 2025/26"))
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    is_current = models.BooleanField(_("current"), default=False)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["school", "label"], name="schoolyear_label_unique"),
            models.UniqueConstraint(
                fields=["school"], condition=Q(is_current=True), name="schoolyear_one_current"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="schoolyear_ends_after"
            ),
        ]
        verbose_name = _("school year")
        verbose_name_plural = _("school years")

    def __str__(self) -> str:
        return self.label


class RolloverRule(SchoolScopedModel):
    """How the school's classes move up at the end of a year (one per school)."""

    final_grade = models.PositiveSmallIntegerField(
        _("final grade"),
        default=10,
        help_text=_("Students of this grade graduate: their accounts are deactivated."),
    )
    teachers_follow = models.BooleanField(
        _("teachers move up with their class"),
        default=True,
        help_text=_("Otherwise the new classes start without teachers."),
    )

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["school"], name="rolloverrule_school")]
        verbose_name = _("rollover rule")
        verbose_name_plural = _("rollover rules")

    def __str__(self) -> str:
        return f"{self.school_id}: {self.final_grade}"


class ClassException(SchoolScopedModel):
    """A class that does not simply move up a grade: it becomes a named class (another
    name, or one that another class moves into too: merged), or it leaves the school."""

    class Action(models.TextChoices):
        MOVE = "move", _("becomes the class")
        LEAVE = "leave", _("leaves the school")

    group = models.OneToOneField(
        "schools.Group", on_delete=models.CASCADE, related_name="rollover_exception"
    )
    action = models.CharField(_("at the rollover"), max_length=8, choices=Action.choices)
    target = models.CharField(_("new class"), max_length=100, blank=True)

    class Meta(SchoolScopedModel.Meta):
        verbose_name = _("class exception")
        verbose_name_plural = _("class exceptions")

    def __str__(self) -> str:
        return f"{self.group_id}: {self.action} {self.target}"


class Leaver(SchoolScopedModel):
    """A student marked to leave the school at the next rollover."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rollover_leaver"
    )
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        verbose_name = _("leaver")
        verbose_name_plural = _("leavers")

    def __str__(self) -> str:
        return str(self.user_id)
