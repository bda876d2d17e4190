"""Erasing one person completely: the school office's erasure (Art. 17 GDPR) and the
retention rule for deactivated accounts both end here.

The user row is deleted; the database deletes what the person owns (CASCADE) and empties
references in what others need (SET_NULL: a teacher's feedback stays on the submission,
a file the person put into a class folder stays there). Before that, the references
Kreide keeps as text are emptied too: audit entries about the person keep their action
and time but lose the name and details, the Django admin's log loses the name, other
people's notifications naming the person are deleted. After the
commit the mailbox goes (through kreide.mail) and the stored files nothing refers to any
more are freed at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Q

from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.mail import mailboxes
from kreide.mail import services as mail_services
from kreide.notifications.models import Notification
from kreide.privacy import access, personal
from kreide.privacy.models import AccessExport
from kreide.storage import collector
from kreide.storage.models import Blob


@dataclass
class Preview:
    """What an erasure removes (rows deleted per model) and what stays without the name."""

    deleted: Counter = field(default_factory=Counter)  # verbose model name -> rows
    emptied: Counter = field(default_factory=Counter)  # rows kept, the reference emptied
    mails: int | None = None  # None: no mail servers here

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _verbose(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name_plural)


def preview(user: User) -> Preview:
    """Count what `erase(user)` would delete, the way the database will cascade it."""
    result = Preview()
    collector_ = models.deletion.Collector(using="default", origin=user)
    collector_.collect([user])
    for model, instances in collector_.data.items():
        result.deleted[_verbose(model)] += len(instances)
    for qs in collector_.fast_deletes:
        count = qs.count()
        if count:
            result.deleted[_verbose(qs.model)] += count
    for (f, _value), batches in collector_.field_updates.items():
        if f.related_model is not User:
            continue  # a reference between rows that go anyway
        count = sum(len(batch) for batch in batches)
        if count:
            result.emptied[f"{_verbose(f.model)} ({f.verbose_name})"] += count
    naming = _notifications_naming(user).count()
    if naming:
        result.deleted[_verbose(Notification)] += naming
    result.mails = mailboxes.count(user)
    return result


def _notifications_naming(user: User) -> models.QuerySet:
    """Other people's notifications that name the person in their text ("Absence
    reported: <name>"): pointers only, so they go with the person."""
    name = user.get_full_name().strip()
    if not name or user.school_id is None:
        return Notification.unscoped.none()
    return (
        Notification.objects.for_school(user.school_id)
        .filter(text__contains=name)
        .exclude(user=user)
    )


def _blob_candidates(user: User) -> set[int]:
    """Blobs any row of the person refers to: whatever of them is unreferenced after the
    erasure is freed (one still referenced elsewhere is left alone by the collector)."""
    found: set[int] = set()
    for entry in personal.CATALOGUE:
        model = entry.model
        for f in model._meta.concrete_fields:
            if f.is_relation and f.related_model is Blob:
                found.update(
                    entry.rows_of(user)
                    .filter(**{f"{f.name}__isnull": False})
                    .values_list(f.attname, flat=True)
                )
    return found


def _scrub_text_references(user: User) -> None:
    """Keep the fact (who did what, when) in the logs, but not the erased person's name."""
    AuditEntry.unscoped.filter(target_type="accounts.user", target_id=str(user.pk)).update(
        target_label="", details={}
    )
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
    ).update(object_repr="", change_message="")


def erase(user: User, *, release_blobs: bool = True) -> Preview:
    """Delete the person and everything that is theirs. Call inside the caller's
    transaction (which writes the audit entry); blobs and the mailbox go after commit."""
    counts = preview(user)
    blobs = _blob_candidates(user)
    copies = [
        access.path_of(export)
        for export in AccessExport.unscoped.filter(Q(subject=user) | Q(requested_by=user))
    ]
    mailbox = mailboxes.location(user)
    logins = [user.username.lower(), mail_services.address_of(user)]
    # A school's connected tool outlives the admin who registered it.
    personal.catalogue()["oidc.Client"].model._base_manager.filter(user=user).update(user=None)
    _scrub_text_references(user)
    _notifications_naming(user).delete()
    user.delete()

    def after_commit() -> None:
        mailboxes.remove(mailbox, logins)
        for path in copies:
            path.unlink(missing_ok=True)
        if release_blobs:
            for blob in Blob.objects.filter(pk__in=blobs):
                collector.release(blob)

    transaction.on_commit(after_commit)
    return counts
