"""Rooms, their members and messages.

A room belongs to a school. Class and group rooms mirror a `schools.Group` and are kept in
step with its roster; teachers create further rooms; a direct room holds two people.
Read state is one number per member (the last message id read), so unread counts are one
aggregate query whatever the number of rooms.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class Room(SchoolScopedModel):
    class Kind(models.TextChoices):
        GROUP = "group", _("class or group")
        CUSTOM = "custom", _("room")
        DIRECT = "direct", _("direct message")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    group = models.OneToOneField(
        "schools.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="room"
    )
    # "smaller-larger" user ids: one direct room per pair of people.
    direct_key = models.CharField(max_length=40, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    read_only = models.BooleanField(
        _("announcements only"),
        default=False,
        help_text=_("Only moderators may write."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["name"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return self.name or f"Room {self.pk}"


class RoomMember(SchoolScopedModel):
    class Role(models.TextChoices):
        MEMBER = "member", _("member")
        MODERATOR = "moderator", _("moderator")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="room_memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    muted = models.BooleanField(_("muted"), default=False)
    # The member's own choice: no notifications for new messages here (they still arrive).
    notifications_off = models.BooleanField(_("notifications off"), default=False)
    last_read_id = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="room_member_unique")]
        verbose_name = _("room member")
        verbose_name_plural = _("room members")

    def __str__(self) -> str:
        return f"{self.user} in {self.room}"

    @property
    def is_moderator(self) -> bool:
        return self.role == self.Role.MODERATOR


class Attachment(SchoolScopedModel):
    """An uploaded file waiting for (or attached to) a message in one room."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    blob = models.ForeignKey("storage.Blob", on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class Message(SchoolScopedModel):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    # The client's idempotency key: a retried send is stored once.
    client_key = models.CharField(max_length=64)
    body = models.TextField(_("text"), blank=True)
    attachment = models.OneToOneField(
        Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="message"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The last edit or deletion: a client back from a drop asks for what changed since.
    changed_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta(SchoolScopedModel.Meta):
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["author", "client_key"], name="message_client_key_unique"
            )
        ]
        indexes = [
            models.Index(fields=["room", "id"], name="message_room_id"),
            models.Index(fields=["room", "changed_at"], name="message_room_changed"),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return self.body[:50]
