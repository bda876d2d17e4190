"""The tasks section of the dashboard: a fixed number of queries for any number of tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, F, Prefetch, Q
from django.http import HttpRequest
from django.utils import timezone

from kreide.tasks import services
from kreide.tasks.models import Submission

NEW_DAYS = 7
DUE_SOON_DAYS = 3
SHOWN = 5


def tasks_section(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if user.school_id is None:
        return None
    now = timezone.now()
    if user.is_teacher:
        upcoming = list(
            services.managed_tasks(user)
            .filter(due_at__gte=now - timedelta(days=1))
            .annotate(handed_in=Count("submissions"))
            .order_by("due_at")[:SHOWN]
        )
        return {"teacher": True, "upcoming": upcoming}
    if not user.is_student:
        return None
    soon = now + timedelta(days=DUE_SOON_DAYS)
    candidates = list(
        services.student_tasks(user, now)
        .filter(Q(starts_at__gte=now - timedelta(days=NEW_DAYS)) | Q(due_at__range=(now, soon)))
        .prefetch_related(
            Prefetch(
                "submissions",
                queryset=Submission.objects.for_school(user.school_id).filter(student=user),
                to_attr="my_submissions",
            )
        )
        .order_by("due_at")
    )
    open_tasks = [task for task in candidates if not task.my_submissions]
    feedback = list(
        Submission.objects.for_school(user.school_id)
        .filter(student=user, reviewed_at__isnull=False)
        .filter(Q(feedback_seen_at__isnull=True) | Q(feedback_seen_at__lt=F("reviewed_at")))
        .select_related("task")
        .order_by("-reviewed_at")[:SHOWN]
    )
    return {
        "teacher": False,
        "due_soon": [task for task in open_tasks if now <= task.due_at <= soon][:SHOWN],
        "new": [
            task
            for task in open_tasks
            if task.starts_at >= now - timedelta(days=NEW_DAYS) and task.due_at > soon
        ][:SHOWN],
        "feedback": feedback,
    }
