"""Folders and files: one tree per space (a user's personal folder, a class's or group's
folder), shares, public links, app passwords and the WebDAV side tables.

A `Node` is a folder or a file. Its `path` is the materialised chain of ids ("/4/17/23/"),
so subtree queries, moves and the "into itself" check are single indexed operations.
File content is a content-addressed `Blob`: identical uploads are stored once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel

MIB = 1024 * 1024


class FileSettings(SchoolScopedModel):
    """A school's default quotas (the school admin sets them; a space may override)."""

    user_quota_mb = models.PositiveIntegerField(_("storage per person (MB)"), default=1024)
    group_quota_mb = models.PositiveIntegerField(
        _("storage per class or group (MB)"), default=5 * 1024
    )

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["school"], name="filesettings_school")]


class Space(SchoolScopedModel):
    """The top of one tree: exactly one of `user` or `group` is set."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="file_space",
    )
    group = models.OneToOneField(
        "schools.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="file_space"
    )
    quota_mb = models.PositiveIntegerField(_("storage (MB)"), null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True) ^ Q(group__isnull=True), name="space_one_owner"
            )
        ]

    def __str__(self) -> str:
        return str(self.group or self.user)


class Node(SchoolScopedModel):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    path = models.CharField(max_length=1000, blank=True, db_index=True)
    name = models.CharField(_("name"), max_length=255)
    is_folder = models.BooleanField(default=False)
    blob = models.ForeignKey(
        "storage.Blob", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    size = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    # Trash: every node of a deleted subtree carries the deletion time and points at the
    # node the user deleted (the trash entry), so a restore brings back exactly that subtree.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    trash_root = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-is_folder", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["parent", "name"],
                condition=Q(deleted_at__isnull=True, parent__isnull=False),
                name="node_unique_live_name",
            ),
            models.UniqueConstraint(
                fields=["space"], condition=Q(parent__isnull=True), name="node_one_root"
            ),
        ]
        indexes = [models.Index(fields=["space", "deleted_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]


class GroupWriter(SchoolScopedModel):
    """A group member who may write to the group's folder besides its teachers."""

    group = models.ForeignKey("schools.Group", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="groupwriter_unique")]


class Share(SchoolScopedModel):
    """A file or folder shared with a person or a group inside the same school."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    group = models.ForeignKey(
        "schools.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    can_write = models.BooleanField(_("may change"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=True) ^ Q(group__isnull=True), name="share_one_target"
            ),
            models.UniqueConstraint(fields=["node", "user"], name="share_node_user"),
            models.UniqueConstraint(fields=["node", "group"], name="share_node_group"),
        ]


class PublicLink(SchoolScopedModel):
    """A read-only link for people without an account, valid until `expires_at`."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="public_links")
    token = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(_("valid until"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)


class AppPassword(SchoolScopedModel):
    """A password for one WebDAV client; only its SHA-256 is stored (it is random and long,
    so a fast hash suffices and every WebDAV request can check it without argon2)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="app_passwords"
    )
    name = models.CharField(_("name"), max_length=100)
    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-created_at"]


class DeadProperty(SchoolScopedModel):
    """A WebDAV property a client stored on a file or folder (PROPPATCH)."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="dead_properties")
    name = models.CharField(max_length=500)  # Clark notation: {namespace}local
    value = models.TextField()  # the XML element as sent

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["node", "name"], name="deadprop_unique")]


class DavLock(SchoolScopedModel):
    """A WebDAV lock, kept in the database so every worker process sees it."""

    token = models.CharField(max_length=100, unique=True)
    root = models.CharField(max_length=1000, db_index=True)
    data = models.JSONField()
    expire = models.FloatField()
