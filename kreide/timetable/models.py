"""Timetable data of a school: bell times, rooms, the weekly lessons and the day's changes.

Lessons and substitutions come from the school's timetable program (Untis GPU export or
Kreide's CSV format, see kreide/timetable/importing.py); Kreide never edits them by hand,
so a re-import is the single source of truth and can be compared row by row.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class Period(SchoolScopedModel):
    """A period of the bell schedule (1st period 7:55–8:40)."""

    number = models.PositiveSmallIntegerField(_("period"))
    starts_at = models.TimeField(_("starts at"))
    ends_at = models.TimeField(_("ends at"))

    class Meta(SchoolScopedModel.Meta):
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["school", "number"], name="timetable_period_unique")
        ]
        verbose_name = _("period")
        verbose_name_plural = _("bell times")

    def __str__(self) -> str:
        return f"{self.number}. {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"


class Room(SchoolScopedModel):
    code = models.CharField(_("room"), max_length=20)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["school", "code"], name="timetable_room_unique")
        ]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return self.code


class TeacherCode(SchoolScopedModel):
    """The timetable program's abbreviation of a teacher (Untis "Kürzel"), kept once matched."""

    code = models.CharField(_("abbreviation"), max_length=20)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta(SchoolScopedModel.Meta):
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["school", "code"], name="timetable_teachercode_unique")
        ]
        verbose_name = _("teacher abbreviation")
        verbose_name_plural = _("teacher abbreviations")

    def __str__(self) -> str:
        return self.code


class Lesson(SchoolScopedModel):
    """One period of the regular week for one class (a double period is two rows)."""

    weekday = models.PositiveSmallIntegerField(_("weekday"))  # 1 = Monday, as in Untis
    period = models.PositiveSmallIntegerField(_("period"))
    group = models.ForeignKey(
        "schools.Group", on_delete=models.CASCADE, related_name="+", verbose_name=_("class")
    )
    subject = models.ForeignKey(
        "schools.Subject", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    number = models.CharField(_("lesson number"), max_length=20, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["weekday", "period", "pk"]
        indexes = [
            models.Index(fields=["group", "weekday"]),
            models.Index(fields=["teacher", "weekday"]),
            models.Index(fields=["room", "weekday"]),
        ]
        verbose_name = _("lesson")
        verbose_name_plural = _("lessons")


class Substitution(SchoolScopedModel):
    """A change to one period of one class on one day (one Untis GPU014 line per class)."""

    class Kind(models.TextChoices):
        CANCELLED = "cancelled", _("Cancelled")
        SUBSTITUTION = "substitution", _("Substitution")
        ROOM_CHANGE = "room", _("Room change")
        MOVED = "moved", _("Moved")
        SUPERVISION = "supervision", _("Supervision")
        EXAM = "exam", _("Exam")
        OTHER = "other", _("Change")

    day = models.DateField(_("day"))
    period = models.PositiveSmallIntegerField(_("period"))
    group = models.ForeignKey(
        "schools.Group", on_delete=models.CASCADE, related_name="+", verbose_name=_("class")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    subject = models.ForeignKey(
        "schools.Subject", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("substitute"),
    )
    absent_teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("absent teacher"),
    )
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    original_room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    number = models.CharField(_("substitution number"), max_length=20, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["day", "period", "pk"]
        indexes = [
            models.Index(fields=["school", "day"]),
            models.Index(fields=["group", "day"]),
            models.Index(fields=["teacher", "day"]),
            models.Index(fields=["absent_teacher", "day"]),
        ]
        verbose_name = _("substitution")
        verbose_name_plural = _("substitution plan")


def _new_token() -> str:
    return secrets.token_urlsafe(24)


class ScreenLink(SchoolScopedModel):
    """The secret address of the school's hallway info screen; renewing it locks out the old."""

    token = models.CharField(max_length=64, unique=True, default=_new_token)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["school"], name="timetable_screen_unique")]
        verbose_name = _("info screen link")
        verbose_name_plural = _("info screen links")
