"""The tasks section of the dashboard: a fixed number of queries for any number of tasks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db.models import Count, F, Q
from django.http import HttpRequest
from django.utils import timezone

from kreide.core.prepared import PreparedQuery
from kreide.dashboard.registry import Probe
from kreide.schools import access
from kreide.tasks import services
from kreide.tasks.models import Submission

NEW_DAYS = 7
DUE_SOON_DAYS = 3
SHOWN = 5


def tasks_entries(request: HttpRequest) -> dict[str, list[str]]:
    """What a student's section reads from the fragment cache (a teacher's is a query)."""
    user = request.user
    if not (user.is_student and user.school_id is not None and access.participates(user)):
        return {}
    return services.visible_tasks_fragments(user, access.request_group_ids(request, access.MEMBER))


def tasks_probes(request: HttpRequest) -> dict[str, Probe]:
    """A student's tasks given by name (hardly ever any) are asked for first."""
    if not (request.user.is_student and request.user.school_id is not None):
        return {}
    name, query, args = services.named_tasks_query(request.user)
    return {name: Probe(query, args, services.VISIBLE_SECONDS)}


class Feedback(NamedTuple):
    """A reviewed submission whose feedback the student has not seen yet."""

    task_id: int
    task_title: str
    reviewed_at: datetime


def _submissions(school_id: int, student_id: int, task_ids: list[int]):
    """One query for both: the student's submissions of `task_ids`, and unseen feedback;
    as plain rows (a model instance each cost ~30 Python calls, and read the texts)."""
    unseen = Q(reviewed_at__isnull=False) & (
        Q(feedback_seen_at__isnull=True) | Q(feedback_seen_at__lt=F("reviewed_at"))
    )
    return (
        Submission.objects.for_school(school_id)
        .filter(Q(task_id__in=task_ids) | unseen, student_id=student_id)
        .values_list("task_id", "status", "reviewed_at", "feedback_seen_at", "task__title")
    )


_SUBMISSIONS = PreparedQuery(_submissions)  # built once per number of candidates


def tasks_kept(context: dict[str, Any]) -> tuple:
    """Everything the tasks section shows (tasks/section_tasks.html): the same for the
    students of a class with the same open tasks and no new feedback."""
    if context["teacher"]:
        return (
            tuple(
                (task.pk, task.title, task.due_at, task.handed_in) for task in context["upcoming"]
            ),
            context["can_create"],
        )
    return (
        tuple((submission.task_id, submission.task_title) for submission in context["feedback"]),
        *(
            tuple((task.pk, task.title, task.due_at) for task in context[part])
            for part in ("due_soon", "new")
        ),
    )


def tasks_section(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if user.school_id is None:
        return None
    now = timezone.now()
    if user.is_teacher:
        upcoming = list(
            services.managed_tasks(user)
            .filter(due_at__gte=now - timedelta(days=1))
            .annotate(
                handed_in=Count("submissions", filter=Q(submissions__status__in=services.HANDED_IN))
            )
            .order_by("due_at")[:SHOWN]
        )
        # "New task" only for a teacher of an active class or group: else it leads nowhere.
        can_create = any(m.is_teacher for m in access.memberships_of(request))
        return {"teacher": True, "upcoming": upcoming, "can_create": can_create}
    if not user.is_student:
        return None
    soon = now + timedelta(days=DUE_SOON_DAYS)
    new_since = now - timedelta(days=NEW_DAYS)
    member_groups = access.request_group_ids(request, access.MEMBER)
    candidates = [
        task
        for task in services.visible_tasks(user, member_groups, now)
        if task.starts_at >= new_since or now <= task.due_at <= soon
    ]
    submissions = _SUBMISSIONS.list(user.school_id, user.pk, [task.pk for task in candidates])
    handed_in = {row[0] for row in submissions if row[1] != Submission.Status.DRAFT}
    open_tasks = [task for task in candidates if task.pk not in handed_in]
    feedback = sorted(
        (
            Feedback(task_id, title, reviewed_at)
            for task_id, _status, reviewed_at, seen_at, title in submissions
            if reviewed_at is not None and (seen_at is None or seen_at < reviewed_at)
        ),
        key=lambda submission: submission.reviewed_at,
        reverse=True,
    )[:SHOWN]
    new = [task for task in open_tasks if task.starts_at >= new_since and task.due_at > soon]
    return {
        "teacher": False,
        "due_soon": [task for task in open_tasks if now <= task.due_at <= soon][:SHOWN],
        "new": new[:SHOWN],
        "feedback": feedback,
    }
