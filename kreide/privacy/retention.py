"""Retention rules: how long each kind of data is kept, per school, and the job that
deletes what expired (`kreide retention`, nightly as part of `kreide housekeeping`).

A rule's period counts from the moment the data stopped being needed: a submission from
its task's due date, a message from when it was sent, an account's data from its
deactivation. A school changes a period on its privacy page; without its own rule the
default below applies (reasons and sources: docs/privacy.md). An empty period keeps the
data until someone deletes it.

The dry run counts with the same queries the real run deletes with, so both give the same
numbers for the same moment (`now` is a parameter: the tests travel in time with it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kreide.accounts.models import User
from kreide.core import audit
from kreide.core.models import AuditEntry
from kreide.files.models import Node, Space
from kreide.mail import mailboxes, webmail
from kreide.messenger.models import Attachment as MessageAttachment
from kreide.messenger.models import Message
from kreide.notifications.models import Notification
from kreide.parents.models import AbsenceReport
from kreide.privacy import erasure
from kreide.privacy.models import Deactivation, RetentionRule, RetentionRun
from kreide.schools.models import Group, School
from kreide.schoolyear.models import SchoolYear
from kreide.storage import collector
from kreide.storage.models import Blob
from kreide.tasks.models import Attachment as TaskAttachment
from kreide.tasks.models import Submission, SubmissionFile, Task
from kreide.video.models import Admission, ChatMessage, VideoLesson

logger = logging.getLogger("kreide.privacy")
BATCH = 1000

audit.declare({"privacy.retention": _("Expired data deleted (retention rules)")})


@dataclass(frozen=True)
class Found:
    """What one rule finds expired: rows to delete (their count is the rule's count) and
    the blobs they refer to, freed after the deletion when nothing else refers to them."""

    querysets: tuple[models.QuerySet, ...]
    blobs: tuple[models.QuerySet, ...] = ()


@dataclass(frozen=True)
class Rule:
    kind: str
    label: str
    default_days: int | None
    basis: str  # why this default (shown on the privacy page; details in docs/privacy.md)
    find: Callable[[School, datetime], Found] | None = None
    # Rules that do more than delete rows (erase accounts, thin mailboxes): count, or run.
    apply: Callable[[School, datetime, bool], int] | None = None


def _submissions(school: School, cutoff: datetime) -> Found:
    expired = Submission.objects.for_school(school).filter(task__due_at__lt=cutoff)
    files = SubmissionFile.objects.for_school(school).filter(submission__in=expired)
    return Found((expired,), (files.values("blob"),))


def _tasks(school: School, cutoff: datetime) -> Found:
    expired = Task.objects.for_school(school).filter(due_at__lt=cutoff)
    attachments = TaskAttachment.objects.for_school(school).filter(task__in=expired)
    files = SubmissionFile.objects.for_school(school).filter(submission__task__in=expired)
    return Found((expired,), (attachments.values("blob"), files.values("blob")))


def _messages(school: School, cutoff: datetime) -> Found:
    expired = Message.objects.for_school(school).filter(created_at__lt=cutoff)
    # Attachments of expired messages, and uploads never sent that are as old.
    attachments = MessageAttachment.objects.for_school(school).filter(
        Q(message__in=expired) | Q(message__isnull=True, created_at__lt=cutoff)
    )
    return Found((expired, attachments), (attachments.values("blob"),))


def _video(school: School, cutoff: datetime) -> Found:
    chat = ChatMessage.objects.for_school(school).filter(created_at__lt=cutoff)
    # Who waited, joined and raised a hand in a lesson that ended before the cutoff.
    attendance = Admission.objects.for_school(school).filter(
        lesson__in=VideoLesson.objects.for_school(school).filter(ends_at__lt=cutoff)
    )
    return Found((chat, attendance))


def _notifications(school: School, cutoff: datetime) -> Found:
    return Found((Notification.objects.for_school(school).filter(created_at__lt=cutoff),))


def _absences(school: School, cutoff: datetime) -> Found:
    expired = AbsenceReport.objects.for_school(school).filter(last_day__lt=cutoff.date())
    return Found((expired,))


def _audit_log(school: School, cutoff: datetime) -> Found:
    expired = AuditEntry.objects.for_school(school).filter(created_at__lt=cutoff)
    # This run's own entry is written afterwards, so it is never among them.
    return Found((expired,))


def _deactivated(school: School, cutoff: datetime) -> models.QuerySet[User]:
    long_gone = Deactivation.objects.filter(user=OuterRef("pk"), since__lt=cutoff)
    return User.objects.for_school(school).filter(is_active=False).filter(Exists(long_gone))


def _leaver_files(school: School, cutoff: datetime) -> Found:
    spaces = Space.objects.for_school(school).filter(user__in=_deactivated(school, cutoff))
    nodes = Node.objects.for_school(school).filter(space__in=spaces)
    return Found((nodes,), (nodes.filter(blob__isnull=False).values("blob"),))


def _archived_classes(school: School, cutoff: datetime) -> Found:
    """Last years' classes kept read-only by the rollover (`Group.archived_year`), once
    their school year ended before the cutoff: with their room, folder and rosters."""
    ended = SchoolYear.objects.for_school(school).filter(ends_on__lt=cutoff.date())
    groups = (
        Group.objects.for_school(school)
        .filter(is_active=False, archived_year__in=ended.values("label"))
        .exclude(archived_year="")
    )
    files = Node.objects.for_school(school).filter(space__group__in=groups, blob__isnull=False)
    attachments = MessageAttachment.objects.for_school(school).filter(room__group__in=groups)
    return Found((groups,), (files.values("blob"), attachments.values("blob")))


def _erase_accounts(school: School, cutoff: datetime, dry_run: bool) -> int:
    accounts = list(_deactivated(school, cutoff).order_by("pk"))
    if not dry_run:
        for account in accounts:
            with transaction.atomic():
                pk, role = account.pk, account.role
                erased = erasure.erase(account)
                audit.record(
                    school,
                    None,
                    "privacy.person_erased",
                    None,
                    account=pk,
                    role=role,
                    rows=erased.total,
                    rule="deactivated_accounts",
                )
    return len(accounts)


def _thin_mailboxes(school: School, cutoff: datetime, dry_run: bool) -> int:
    found = 0
    for account in User.objects.for_school(school).order_by("pk").iterator():
        try:
            found += mailboxes.delete_before(account, cutoff, dry_run=dry_run)
        except webmail.MailUnavailable as error:  # counted next night
            logger.warning("retention: mailbox of %s not reached: %s", account.pk, error)
    return found


RULES: tuple[Rule, ...] = (
    Rule(
        "submissions",
        _("Submissions with their files and feedback (after the due date)"),
        365,
        _("Project default: one school year and a margin; VO-DV I NRW § 9 allows 5 years."),
        find=_submissions,
    ),
    Rule(
        "tasks",
        _("Tasks with their attachments and remaining submissions (after the due date)"),
        730,
        _("Project default: two school years; VO-DV I NRW § 9 allows 5 years."),
        find=_tasks,
    ),
    Rule(
        "messages",
        _("Messenger messages and their files (after sending)"),
        365,
        _("Project default (storage limitation, Art. 5(1)(e) GDPR)."),
        find=_messages,
    ),
    Rule(
        "video",
        _("Video lesson chat and attendance (after the lesson)"),
        30,
        _("Project default: needed only around the lesson."),
        find=_video,
    ),
    Rule(
        "notifications",
        _("Notifications (after they were sent)"),
        90,
        _("Project default."),
        find=_notifications,
    ),
    Rule(
        "absences",
        _("Absence reports by parents (after the last day of absence)"),
        365,
        _("Project default: the official record is the class register (VO-DV I NRW § 9)."),
        find=_absences,
    ),
    Rule(
        "audit_log",
        _("Audit log entries"),
        365,
        _("Project default: long enough to investigate an incident of the school year."),
        find=_audit_log,
    ),
    Rule(
        "archived_classes",
        _("Archived classes of past school years with their room, folder and roster"),
        730,
        _("Project default: two years after that school year; VO-DV I NRW § 9 allows 5 years."),
        find=_archived_classes,
    ),
    Rule(
        "mail",
        _("E-mail in the school's mailboxes (after receipt)"),
        None,
        _("Project default: kept until the account is deleted."),
        apply=_thin_mailboxes,
    ),
    Rule(
        "leaver_files",
        _("Personal files of deactivated accounts (after deactivation)"),
        90,
        _("Project default: time to hand over what others need."),
        find=_leaver_files,
    ),
    Rule(
        "deactivated_accounts",
        _("Deactivated accounts with everything that is theirs (after deactivation)"),
        365,
        _("Project default; VO-DV I NRW § 9 allows 5 years after the year of leaving."),
        apply=_erase_accounts,
    ),
)


def rule(kind: str) -> Rule:
    return next(r for r in RULES if r.kind == kind)


def periods(school: School) -> dict[str, int | None]:
    """Days each rule keeps data at this school (its own rule, else the default)."""
    own = dict(RetentionRule.objects.for_school(school).values_list("kind", "days"))
    return {r.kind: own.get(r.kind, r.default_days) for r in RULES}


def record_deactivations(now: datetime | None = None) -> None:
    """Start the clock for accounts found deactivated without a row (a bulk change that
    published no event), and stop it for accounts active again."""
    now = now or timezone.now()
    missing = User.objects.filter(is_active=False, school__isnull=False).exclude(
        pk__in=Deactivation.objects.values("user")
    )
    Deactivation.objects.bulk_create(
        [Deactivation(user_id=pk, since=now) for pk in missing.values_list("pk", flat=True)],
        ignore_conflicts=True,
    )
    Deactivation.objects.filter(user__is_active=True).delete()


def deactivation_changed(user_id: int, active: bool) -> None:
    """Subscriber of accounts.user_active_changed."""
    if active:
        Deactivation.objects.filter(user_id=user_id).delete()
    else:
        Deactivation.objects.get_or_create(user_id=user_id, defaults={"since": timezone.now()})


def _blob_ids(found: Found) -> set[int]:
    ids: set[int] = set()
    for values in found.blobs:
        ids.update(pk for pk in values.values_list("blob", flat=True) if pk is not None)
    return ids


def run(school: School, *, dry_run: bool = False, now: datetime | None = None) -> RetentionRun:
    """Apply every rule of the school once; the run with its counts per rule."""
    now = now or timezone.now()
    record_deactivations(now)
    days = periods(school)
    counts: dict[str, int] = {}
    freed: set[int] = set()
    for r in RULES:
        if days[r.kind] is None:
            counts[r.kind] = 0
            continue
        cutoff = now - timedelta(days=days[r.kind])
        if r.apply is not None:
            counts[r.kind] = r.apply(school, cutoff, dry_run)
            continue
        with transaction.atomic():
            found = r.find(school, cutoff)
            # Every part is listed before anything goes: a later part may be found through
            # an earlier one (a message's attachment).
            doomed = [(qs.model, list(qs.values_list("pk", flat=True))) for qs in found.querysets]
            counts[r.kind] = sum(len(pks) for _model, pks in doomed)
            if not dry_run and counts[r.kind]:
                freed |= _blob_ids(found)
                for model, pks in doomed:
                    for start in range(0, len(pks), BATCH):
                        model._base_manager.filter(pk__in=pks[start : start + BATCH]).delete()
    with transaction.atomic():
        result = RetentionRun.objects.for_school(school).create(
            started_at=now, dry_run=dry_run, counts=counts
        )
        if not dry_run and any(counts.values()):
            audit.record(school, None, "privacy.retention", None, counts=counts)
    for blob in Blob.objects.filter(pk__in=freed):
        collector.release(blob)
    logger.info(
        "retention %s%s: %s",
        school.slug,
        " (dry run)" if dry_run else "",
        ", ".join(f"{kind} {count}" for kind, count in counts.items()),
    )
    return result
