"""A school's mail settings: its domain and who may write beyond the school.

Addresses and list members are not stored: they are derived from accounts and rosters
at every lookup (kreide/mail/services.py), so nothing here can go stale.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class MailPolicy(SchoolScopedModel):
    domain = models.CharField(
        _("mail domain"),
        max_length=200,
        blank=True,
        help_text=_("Empty: the school's short name followed by KREIDE_MAIL_DOMAIN_SUFFIX."),
    )
    students_external = models.BooleanField(
        _("students may exchange mail with addresses outside the school"), default=False
    )
    staff_external = models.BooleanField(
        _("teachers and the school office may exchange mail outside the school"), default=True
    )

    class Meta(SchoolScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["school"], name="mailpolicy_one_per_school"),
            models.UniqueConstraint(
                fields=["domain"], condition=~models.Q(domain=""), name="mailpolicy_domain_unique"
            ),
        ]
        verbose_name = _("mail policy")
        verbose_name_plural = _("mail policies")

    def __str__(self) -> str:
        return self.domain or str(self.school_id)
