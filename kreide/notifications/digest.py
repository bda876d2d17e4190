"""The daily e-mail digest: what a person has not read since the last one.

It leaves the way Kreide's own mails do (`EMAIL_BACKEND`: the school's Postfix when it
runs, or the configured relay), to the person's own address or else their school
mailbox. Without any mail (KREIDE_MAIL=off and no KREIDE_EMAIL_HOST) there is no digest:
the setting is not offered and nothing is written to the outbox folder.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from kreide.accounts.models import User
from kreide.mail import health as mail_health
from kreide.mail import services as mail_services
from kreide.notifications.models import Notification, Preferences

logger = logging.getLogger(__name__)
MAX_ITEMS = 30


def available() -> bool:
    """Can Kreide send mail at all here?"""
    return bool(settings.EMAIL_HOST) or mail_health.configured()


def address_for(user: User) -> str:
    if user.email:
        return user.email
    if mail_health.configured():
        return mail_services.address_of(user)
    return ""


def compose(user: User, notes: list[Notification], total: int, base_url: str) -> mail.EmailMessage:
    with override("de"):
        subject = _("Kreide: %(count)d unread notifications") % {"count": total}
        body = render_to_string(
            "notifications/digest.txt",
            {
                "user": user,
                "notes": notes,
                "total": total,
                "more": total - len(notes),
                "base_url": base_url,
            },
        )
    return mail.EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address_for(user)])


def send_due(now: datetime | None = None) -> int:
    """Send today's digests that are due and not yet sent; returns how many went out."""
    if not available():
        return 0
    local = timezone.localtime(now or timezone.now())
    if local.hour < settings.DIGEST_HOUR:
        return 0
    today = local.date()
    due = (
        Preferences.unscoped.filter(digest=True, user__is_active=True)
        .exclude(digest_sent_on=today)
        .select_related("user", "user__school")
    )
    messages, sent_for = [], []
    for pref in due:
        user = pref.user
        unread = (
            Notification.unscoped.filter(user=user, read_at__isnull=True, pk__gt=pref.digest_upto)
            .exclude(kind__in=pref.quiet_kinds(user.role))
            .order_by("-pk")
        )
        notes = list(unread[:MAX_ITEMS])
        sent_for.append((pref, notes[0].pk if notes else pref.digest_upto))
        if notes and address_for(user):
            messages.append(compose(user, notes, unread.count(), settings.PUBLIC_URL))
    if messages:
        with mail.get_connection() as connection:
            connection.send_messages(messages)
    for pref, upto in sent_for:
        Preferences.unscoped.filter(pk=pref.pk).update(digest_sent_on=today, digest_upto=upto)
    return len(messages)
