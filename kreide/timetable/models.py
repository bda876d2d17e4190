"""Timetable data of a school: bell times, rooms, the weekly lessons and the day's changes.

Lessons and substitutions come from the school's timetable program (Untis GPU export or
Kreide's CSV format, see kreide/timetable/importing.py); Kreide never edits them by hand,
so a re-import is the single source of truth and can be compared row by row.
"""

from __future__ import annotations

import secrets
import uuid

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


def _new_uid() -> str:
    return f"{uuid.uuid4()}@kreide"


class Event(SchoolScopedModel):
    """A date in the calendar: for the school, a class or group, or one person.

    `uid` is the iCalendar UID (feeds and CalDAV); `ical` keeps what a CalDAV client
    stored, so its own properties (alarms, categories) come back unchanged.
    """

    class Audience(models.TextChoices):
        SCHOOL = "school", _("whole school")
        GROUP = "group", _("class or group")
        PERSONAL = "personal", _("only me")

    class Kind(models.TextChoices):
        EVENT = "event", _("Event")
        TEST = "test", _("Class test")
        HOLIDAY = "holiday", _("School holiday")
        TASK = "task", _("To-do")  # a VTODO a calendar app stored in the personal calendar

    audience = models.CharField(_("for"), max_length=16, choices=Audience.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.EVENT)
    group = models.ForeignKey(
        "schools.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("class or group"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    location = models.CharField(_("place"), max_length=200, blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    all_day = models.BooleanField(_("all day"), default=False)
    uid = models.CharField(max_length=255, default=_new_uid)
    # The resource name a CalDAV client chose ("<uid>.ics" when Kreide made the event).
    href = models.CharField(max_length=255, blank=True)
    ical = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["starts_at", "pk"]
        indexes = [
            models.Index(fields=["school", "audience", "starts_at"]),
            models.Index(fields=["group", "starts_at"]),
            models.Index(fields=["owner", "starts_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["school", "uid"], name="timetable_event_uid_unique"),
            models.CheckConstraint(
                name="timetable_event_audience",
                condition=(
                    models.Q(audience="school", group__isnull=True, owner__isnull=True)
                    | models.Q(audience="group", group__isnull=False, owner__isnull=True)
                    | models.Q(audience="personal", group__isnull=True, owner__isnull=False)
                ),
            ),
        ]
        verbose_name = _("event")
        verbose_name_plural = _("calendar")

    def __str__(self) -> str:
        return self.title


class CalendarSettings(SchoolScopedModel):
    """A school's calendar rules: how many class tests a class may write, and its state."""

    tests_per_day = models.PositiveSmallIntegerField(_("class tests per day"), default=1)
    tests_per_week = models.PositiveSmallIntegerField(_("class tests per week"), default=3)
    state = models.CharField(
        _("federal state (for public holidays)"), max_length=8, default="NI", blank=True
    )

    class Meta(SchoolScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["school"], name="timetable_calendarsettings_unique")
        ]
        verbose_name = _("calendar settings")
        verbose_name_plural = _("calendar settings")


class FeedToken(SchoolScopedModel):
    """The secret of one person's calendar subscription (iCal); revoked by deleting it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=64, unique=True, default=_new_token)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["user"], name="timetable_feedtoken_unique")]
        verbose_name = _("calendar subscription")
        verbose_name_plural = _("calendar subscriptions")


class ImportKey(SchoolScopedModel):
    """The secret an export job sends with each pushed Untis or CSV export (as a Bearer
    token). Only its SHA-256 is stored; the admin sees the secret once, when made."""

    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["school"], name="timetable_importkey_unique")
        ]
        verbose_name = _("import key")
        verbose_name_plural = _("import keys")
