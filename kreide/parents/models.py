"""Parents' links to their children, the codes that create them, and absence reports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class ParentLink(SchoolScopedModel):
    """`parent` may follow `child`: one child can have two parents, a parent several
    children (siblings in different classes). Both accounts belong to the link's school."""

    parent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="child_links",
        verbose_name=_("parent"),
    )
    child = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="parent_links",
        verbose_name=_("child"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["parent", "child"], name="parent_link_unique")
        ]
        verbose_name = _("parent link")
        verbose_name_plural = _("parent links")

    def __str__(self) -> str:
        return f"{self.parent} → {self.child}"


class ParentInvitation(SchoolScopedModel):
    """A code printed on a slip for one child; whoever redeems it becomes a parent of the
    child. Only a hash of the code is kept, and a code works once."""

    child = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="parent_invitations",
        verbose_name=_("child"),
    )
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("valid until"))
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("redeemed by"),
    )
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        verbose_name = _("parent invitation")
        verbose_name_plural = _("parent invitations")


class AbsenceReport(SchoolScopedModel):
    """A parent's sick note (Krankmeldung) for a child: the class's teachers and the school
    office read it, one of them acknowledges it and the parent sees that."""

    child = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="absence_reports",
        verbose_name=_("child"),
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("reported by"),
    )
    first_day = models.DateField(_("first day"))
    last_day = models.DateField(_("last day"))
    note = models.TextField(_("note"), blank=True, max_length=2000)
    created_at = models.DateTimeField(_("reported"), auto_now_add=True, db_index=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-created_at"]
        verbose_name = _("absence report")
        verbose_name_plural = _("absence reports")

    def __str__(self) -> str:
        return f"{self.child} {self.first_day}–{self.last_day}"
