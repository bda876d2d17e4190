"""Tasks (Aufgaben): what a teacher posts, and what each student hands in."""

from __future__ import annotations

import base64

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kreide.core.scoping import SchoolScopedModel
from kreide.storage.models import Blob


class Task(SchoolScopedModel):
    class Expects(models.TextChoices):
        FILES = "files", _("files")
        TEXT = "text", _("text")
        BOTH = "both", _("files and text")

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(
        _("description"), blank=True, help_text=_("Markdown: **bold**, *italic*, lists, links.")
    )
    # Rendered and sanitised once on save: 30 students opening the task at 8:00 cost no
    # Markdown rendering.
    description_html = models.TextField(blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    groups = models.ManyToManyField(
        "schools.Group", related_name="tasks", verbose_name=_("classes and groups")
    )
    # Empty: everyone in the groups; otherwise only these students of them.
    students = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        verbose_name=_("only these students"),
    )
    starts_at = models.DateTimeField(_("visible from"), default=timezone.now)
    due_at = models.DateTimeField(_("due"))
    accept_late = models.BooleanField(_("accept late submissions"), default=False)
    expects = models.CharField(
        _("expected"), max_length=8, choices=Expects.choices, default=Expects.FILES
    )
    max_file_mb = models.PositiveIntegerField(_("size limit per file (MB)"), default=20)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["due_at", "pk"]
        indexes = [models.Index(fields=["school", "due_at"])]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")

    def __str__(self) -> str:
        return self.title

    @property
    def accepts_files(self) -> bool:
        return self.expects in (self.Expects.FILES, self.Expects.BOTH)

    @property
    def accepts_text(self) -> bool:
        return self.expects in (self.Expects.TEXT, self.Expects.BOTH)

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    def is_past_due(self, at=None) -> bool:
        return (at or timezone.now()) > self.due_at


class Attachment(SchoolScopedModel):
    """A worksheet or other material of a task."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("file name"), max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["created_at", "pk"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class Submission(SchoolScopedModel):
    # A student's files and text are a draft until they press "hand in"; then the
    # submission is the teacher's to review, and the student gets a receipt.
    class Status(models.TextChoices):
        DRAFT = "draft", _("not handed in yet")
        SUBMITTED = "submitted", _("submitted")
        RETURNED = "returned", _("returned for revision")
        REVIEWED = "reviewed", _("reviewed")

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="submissions")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    text = models.TextField(_("text"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    submitted_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    handed_in_at = models.DateTimeField(_("handed in"), null=True, blank=True)
    # SHA-256 over what was handed in (files' hashes, text, time): the receipt.
    receipt = models.CharField(_("receipt"), max_length=64, blank=True)
    changed_at = models.DateTimeField(_("last change"), default=timezone.now)
    late = models.BooleanField(_("late"), default=False)
    feedback = models.TextField(_("feedback"), blank=True)
    points = models.DecimalField(_("points"), max_digits=6, decimal_places=2, null=True, blank=True)
    grade = models.CharField(pgettext_lazy("school mark", "grade"), max_length=20, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    feedback_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["task", "student__last_name", "student__first_name"]
        constraints = [
            models.UniqueConstraint(fields=["task", "student"], name="submission_unique")
        ]
        indexes = [models.Index(fields=["student", "status"])]
        verbose_name = _("submission")
        verbose_name_plural = _("submissions")

    def __str__(self) -> str:
        return f"{self.task} – {self.student}"

    @property
    def is_handed_in(self) -> bool:
        return self.status != self.Status.DRAFT

    @property
    def receipt_code(self) -> str:
        """The receipt as a student can read it out: 8 characters of the hash in base 32."""
        if not self.receipt:
            return ""
        code = base64.b32encode(bytes.fromhex(self.receipt)).decode()[:8]
        return f"{code[:4]}-{code[4:]}"

    @property
    def has_feedback(self) -> bool:
        return self.status in (self.Status.REVIEWED, self.Status.RETURNED)

    @property
    def feedback_is_new(self) -> bool:
        return self.has_feedback and (
            self.feedback_seen_at is None or self.feedback_seen_at < self.reviewed_at
        )


class SubmissionFile(SchoolScopedModel):
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="files")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("file name"), max_length=255)
    # From the tus creation time: an upload begun before the due date counts as on time.
    upload_started_at = models.DateTimeField(_("upload started"))
    created_at = models.DateTimeField(_("received"), auto_now_add=True)
    # Started before the due date, finished after it: accepted on time, and shown as such.
    finished_after_due = models.BooleanField(default=False)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["created_at", "pk"]
        verbose_name = _("submitted file")
        verbose_name_plural = _("submitted files")

    def __str__(self) -> str:
        return self.filename
