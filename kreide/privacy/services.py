"""Requests from people: copies of their data (access) and erasure; the school's rules.

Who may do what (docs/privacy.md):
- a copy: the person themselves (any role, from their own page), and the school office of
  their school for them; only whoever asked downloads it. Parents ask the school office
  for a child's copy: the office checks custody and the child's age, which Kreide cannot;
- erasure: the school office of the person's school, never for their own account;
- rules: the school office of the school.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kreide.accounts.models import User
from kreide.core import audit
from kreide.core.errors import Refusal
from kreide.privacy import access, erasure, retention
from kreide.privacy.models import AccessExport, RetentionRule
from kreide.schools.access import is_admin_of, participates, require_admin, signs_in_read_only

audit.declare(
    {
        "privacy.access_requested": _("Copy of personal data requested"),
        "privacy.access_downloaded": _("Copy of personal data downloaded"),
        "privacy.person_erased": _("Person erased"),
        "privacy.rule_changed": _("Retention period changed"),
    }
)

# A running export without a sign of life for this long was abandoned (worker gone).
STALE = timedelta(minutes=2)


class PrivacyRefusal(Refusal):
    code = "privacy_refused"


def may_request_for(actor: User, subject: User) -> bool:
    """The person themselves (a graduate or leaver too, signed in read-only), or the school
    office of their school."""
    if subject.school_id is None:
        return False
    if actor.pk == subject.pk:
        return participates(actor) or signs_in_read_only(actor)
    return is_admin_of(actor, subject.school_id)


@transaction.atomic
def request_copy(actor: User, subject: User) -> AccessExport:
    """Queue a copy of everything about `subject`; one still waiting or running is reused."""
    if not may_request_for(actor, subject):
        raise PermissionDenied
    pending = (
        AccessExport.objects.for_school(subject.school_id)
        .filter(subject=subject, requested_by=actor)
        .filter(state__in=[AccessExport.State.WAITING, AccessExport.State.RUNNING])
        .first()
    )
    if pending is not None:
        return pending
    export = AccessExport.objects.for_school(subject.school_id).create(
        subject=subject, requested_by=actor
    )
    audit.record(subject.school_id, actor, "privacy.access_requested", subject)
    return export


def exports_for(actor: User, subject: User) -> list[AccessExport]:
    """The copies of `subject` that `actor` asked for (newest first)."""
    if not may_request_for(actor, subject):
        raise PermissionDenied
    return list(
        AccessExport.objects.for_school(subject.school_id).filter(
            subject=subject, requested_by=actor
        )[:5]
    )


def expires_at(export: AccessExport):
    return (export.finished_at or export.created_at) + timedelta(days=settings.PRIVACY_EXPORT_DAYS)


def download(actor: User, export: AccessExport):
    """The finished ZIP's path for whoever asked for it (while still allowed to)."""
    if export.requested_by_id != actor.pk or not may_request_for(actor, export.subject):
        raise PermissionDenied
    path = access.path_of(export)
    if export.state != AccessExport.State.READY or not path.exists():
        raise PrivacyRefusal(_("This copy is not ready, or no longer kept."), status=404)
    audit.record(export.school_id, actor, "privacy.access_downloaded", export.subject)
    return path


def _claim() -> AccessExport | None:
    stale = timezone.now() - STALE
    with transaction.atomic():
        export = (
            AccessExport.unscoped.select_for_update(skip_locked=True)
            .filter(
                Q(state=AccessExport.State.WAITING)
                | Q(state=AccessExport.State.RUNNING, heartbeat_at__lt=stale)
            )
            .order_by("created_at", "pk")
            .first()
        )
        if export is None:
            return None
        export.state = AccessExport.State.RUNNING
        export.heartbeat_at = timezone.now()
        export.error = ""
        export.save(update_fields=["state", "heartbeat_at", "error"])
    return export


def process_next() -> AccessExport | None:
    """Build the oldest waiting copy (the worker's loop); the export, or None if idle."""
    export = _claim()
    if export is None:
        return None
    try:
        path = access.build(export)
    except access.ExportFailed as error:
        export.state, export.error = AccessExport.State.FAILED, str(error)
        export.finished_at = timezone.now()
        export.save(update_fields=["state", "error", "finished_at"])
        return export
    export.refresh_from_db(fields=["done", "total"])
    export.state, export.size = AccessExport.State.READY, path.stat().st_size
    export.finished_at = timezone.now()
    export.save(update_fields=["state", "size", "finished_at"])
    return export


def purge_expired_copies(now=None) -> int:
    """Delete copies past their days, file and row (nightly)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PRIVACY_EXPORT_DAYS)
    old = AccessExport.unscoped.filter(created_at__lt=cutoff).exclude(
        state=AccessExport.State.RUNNING
    )
    count = 0
    for export in old:
        access.path_of(export).unlink(missing_ok=True)
        export.delete()
        count += 1
    return count


def erasure_preview(actor: User, subject: User) -> erasure.Preview:
    _check_erasure(actor, subject)
    return erasure.preview(subject)


def _check_erasure(actor: User, subject: User) -> None:
    require_admin(actor, subject.school_id)
    if actor.pk == subject.pk:
        raise PrivacyRefusal(_("You cannot erase your own account."), status=403)


@transaction.atomic
def erase_person(actor: User, subject: User) -> erasure.Preview:
    """Erase `subject` completely; the audit entry keeps who did it, when, the former
    account number and role and how many rows went — not the name."""
    _check_erasure(actor, subject)
    pk, role, school_id = subject.pk, subject.role, subject.school_id
    result = erasure.erase(subject)
    audit.record(
        school_id,
        actor,
        "privacy.person_erased",
        None,
        account=pk,
        role=role,
        rows=result.total,
    )
    return result


@transaction.atomic
def set_period(actor: User, school, kind: str, days: int | None) -> None:
    require_admin(actor, school)
    rule = retention.rule(kind)
    before = retention.periods(school)[kind]
    if days == rule.default_days:
        RetentionRule.objects.for_school(school).filter(kind=kind).delete()
    else:
        RetentionRule.objects.for_school(school).update_or_create(
            school=school, kind=kind, defaults={"days": days}
        )
    if before != days:
        audit.record(school, actor, "privacy.rule_changed", None, kind=kind, days=[before, days])
