"""Reading the archives of past school years: read-only by construction.

An archived class (`Group.archived_year`) is inactive, so every write path of tasks,
messenger and files refuses it already (their access checks grant nothing in an inactive
group, and `tasks.services` leaves archived tasks out of what may be edited or handed in).
Here its content is only read, for whom `access.archive_role` allows: the students and
teachers who were in the class (graduates and leavers too, signed in read-only) see its
tasks, their (a teacher: every) submission, the class room's messages and the class
folder's files; parents see the tasks and their own children's hand-in state, as on their
child's page, not the contents.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from kreide.accounts.models import User
from kreide.core import fragments
from kreide.files.models import Node
from kreide.messenger.models import Message
from kreide.schools import access
from kreide.schools.models import Group
from kreide.schoolyear.services import archive_scope
from kreide.tasks.models import Submission, Task

MESSAGES_SHOWN = 200
CACHE_SECONDS = 24 * 3600


def has_archives(request: HttpRequest) -> bool:
    """For the navigation: no query at a school that never rolled over (the school comes
    with the signed-in user), then one per person a day, from the cache; a rollover
    renews it."""
    user = request.user
    if not (access.reads_archive(user) and user.school.has_archives):
        return False
    return fragments.cached(
        f"schoolyear:has-archives:{user.pk}",
        [archive_scope(user.school_id)],
        lambda: access.archived_groups(user).exists(),
        CACHE_SECONDS,
    )


def archives_for(user: User) -> QuerySet[Group]:
    return access.archived_groups(user).order_by("-archived_year", "grade", "name")


def archive_for(user: User, pk: int) -> tuple[Group, str]:
    """The archived class and the user's role in it; PermissionDenied for anyone else
    (another school's class is not found at all)."""
    if not access.reads_archive(user):
        raise PermissionDenied
    group = Group.objects.for_school(user.school_id).filter(pk=pk).first()
    role = access.archive_role(user, group) if group is not None else None
    if role is None:
        raise PermissionDenied
    return group, role


@dataclass
class ArchivedTask:
    task: Task
    submissions: list[Submission]


def tasks_of(user: User, group: Group, role: str) -> list[ArchivedTask]:
    """The class's tasks with the submissions the user may see (2 queries)."""
    tasks = list(Task.objects.for_school(group.school_id).filter(groups=group).order_by("due_at"))
    submissions = Submission.objects.for_school(group.school_id).filter(
        task__in=tasks, handed_in_at__isnull=False
    )
    if role == access.MEMBER:
        submissions = submissions.filter(student=user)
    elif role == access.PARENT:
        submissions = submissions.filter(student_id__in=access.archived_children(user, group))
    by_task: dict[int, list[Submission]] = {}
    for submission in submissions.select_related("student").order_by(
        "student__last_name", "student__first_name"
    ):
        by_task.setdefault(submission.task_id, []).append(submission)
    return [ArchivedTask(task, by_task.get(task.pk, [])) for task in tasks]


def messages_of(group: Group, role: str) -> list[Message]:
    """The class room's last messages (none for parents, who were never in the room)."""
    if role == access.PARENT:
        return []
    found = (
        Message.objects.for_school(group.school_id)
        .filter(room__group=group, deleted_at__isnull=True)
        .select_related("author")
        .order_by("-id")[:MESSAGES_SHOWN]
    )
    return list(reversed(found))


def files_of(group: Group, role: str) -> list[Node]:
    """The class folder's files (not in the trash), by path; none for parents."""
    if role == access.PARENT:
        return []
    return list(
        Node.objects.for_school(group.school_id)
        .filter(space__group=group, is_folder=False, deleted_at__isnull=True)
        .order_by("path", "name")
    )


def file_for(user: User, group: Group, node_id: int) -> Node:
    role = access.archive_role(user, group)
    if role in (None, access.PARENT):
        raise PermissionDenied
    node = (
        Node.objects.for_school(group.school_id)
        .filter(pk=node_id, space__group=group, is_folder=False, deleted_at__isnull=True)
        .select_related("blob")
        .first()
    )
    if node is None:
        raise PermissionDenied
    return node
