"""Video lessons on Janus media servers, and who was let in.

A `MediaServer` is operator-level (not a school's data); lessons, admissions and the lesson
chat belong to a school. An `Admission` row is the single source of truth for load: the
participants a server carries are its admitted, recently seen admissions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class MediaServer(models.Model):
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(
        _("API address"),
        unique=True,
        help_text=_("Janus HTTP API as Kreide reaches it, e.g. http://127.0.0.1:8088/janus"),
    )
    public_url = models.CharField(
        _("browser address"),
        max_length=300,
        help_text=_("Janus WebSocket address as browsers reach it, e.g. wss://video.example/ws"),
    )
    admin_key = models.CharField(_("room admin key"), max_length=200, blank=True)
    capacity = models.PositiveIntegerField(
        _("capacity"), default=100, help_text=_("Participant streams this server carries.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    healthy = models.BooleanField(_("healthy"), default=False)
    last_check = models.DateTimeField(_("last check"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("media server")
        verbose_name_plural = _("media servers")

    def __str__(self) -> str:
        return self.name


class VideoLesson(SchoolScopedModel):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        LIVE = "live", _("running")
        ENDED = "ended", _("ended")

    group = models.ForeignKey(
        "schools.Group",
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("class or group"),
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("teacher"),
    )
    title = models.CharField(_("title"), max_length=200)
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    # Staggered start: members may join from this moment (the teacher any time before).
    join_opens_at = models.DateTimeField(_("join window opens"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    classroom_mode = models.BooleanField(
        _("classroom mode"),
        default=True,
        help_text=_("Only the teacher and students called on send video; everyone sends audio."),
    )
    bitrate = models.PositiveIntegerField(_("video bitrate cap (bit/s)"), default=256_000)
    server = models.ForeignKey(
        MediaServer, null=True, blank=True, on_delete=models.SET_NULL, related_name="lessons"
    )
    room_id = models.BigIntegerField(null=True, blank=True)
    room_secret = models.CharField(max_length=64, blank=True)
    # Bumped by "mute all": clients mute themselves when they see a new value.
    mute_all_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["group", "starts_at"])]
        verbose_name = _("video lesson")
        verbose_name_plural = _("video lessons")

    def __str__(self) -> str:
        return self.title


class Admission(SchoolScopedModel):
    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        ADMITTED = "admitted", _("admitted")
        LEFT = "left", _("left")
        REMOVED = "removed", _("removed")

    lesson = models.ForeignKey(VideoLesson, on_delete=models.CASCADE, related_name="admissions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    server = models.ForeignKey(MediaServer, null=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    token = models.CharField(max_length=64, blank=True)
    queued_at = models.DateTimeField()
    join_at = models.DateTimeField(null=True, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField()
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    video_allowed = models.BooleanField(default=False)

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["lesson", "user"], name="admission_unique")]
        indexes = [
            models.Index(fields=["server", "state", "last_seen"]),
            models.Index(fields=["lesson", "state"]),
        ]

    @property
    def janus_id(self) -> int:
        """The participant's id in the Janus room: Kreide assigns it, so it can kick by id."""
        return self.pk


class ChatMessage(SchoolScopedModel):
    lesson = models.ForeignKey(VideoLesson, on_delete=models.CASCADE, related_name="chat")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(_("message"), max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["pk"]
