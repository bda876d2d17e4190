"""What may happen to tasks and submissions, and the writes that make it happen.

Views, the JSON API and the upload purposes all go through these functions: permission
checks live here and nowhere else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from functools import partial

import markdown
import nh3
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.db.models import Count, FilteredRelation, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from kreide.accounts.models import User
from kreide.core import fragments
from kreide.core.errors import Refusal
from kreide.core.ids import MAX_ID
from kreide.core.prepared import PreparedInsert, PreparedQuery, set_prefetched
from kreide.schools import access
from kreide.schools.models import Group
from kreide.storage.models import Blob, Upload
from kreide.tasks import events as task_events
from kreide.tasks.models import Attachment, Submission, SubmissionFile, Task


class SubmissionRefused(Refusal, PermissionDenied):
    """A student may not change this submission now; the message says why."""

    status, code = 403, "submission_refused"


def render_markdown(text: str) -> str:
    return nh3.clean(markdown.markdown(text, extensions=["sane_lists", "nl2br"]))


# --- Who sees what --------------------------------------------------------------------
# Membership and role questions are answered by kreide.schools.access.


def managed_tasks(user: User) -> QuerySet[Task]:
    """Tasks a teacher may edit and review: those of an active class they teach, or their
    own — never one of a past school year's archived class (read-only there)."""
    if not (access.participates(user) and user.is_teacher):
        return Task.unscoped.none()
    ids = (
        Task.objects.for_school(user.school_id)
        .filter(Q(groups__in=access.group_ids(user, access.TEACHER)) | Q(created_by=user))
        .values("pk")
    )
    return (
        Task.objects.for_school(user.school_id)
        .filter(pk__in=ids)
        .exclude(pk__in=_archived_task_ids(user.school_id))
    )


def _archived_task_ids(school_id: int) -> QuerySet:
    """Tasks of an archived class (kreide.schoolyear's rollover), as a subquery."""
    return (
        Task.groups.through.objects.filter(group__school_id=school_id)
        .exclude(group__archived_year="")
        .values("task_id")
    )


def student_tasks(user: User, now: datetime | None = None) -> QuerySet[Task]:
    """Tasks assigned to a student and already visible (start date reached)."""
    if not (access.participates(user) and user.is_student):
        return Task.unscoped.none()
    return _assigned_tasks(user.school_id, user.pk).filter(starts_at__lte=now or timezone.now())


def _assigned_tasks(school_id: int, student_id: int) -> QuerySet[Task]:
    """Tasks assigned to a student who takes part, whatever their start date."""
    mine = (
        access.active_memberships(school_id, student_id)
        .filter(role=access.MEMBER)
        .values("group_id")
    )
    selected = Task.students.through.objects.filter(user=student_id).values("task_id")
    ids = (
        Task.objects.for_school(school_id)
        .filter(Q(groups__in=mine, students__isnull=True) | Q(pk__in=selected))
        .values("pk")
    )
    return (
        Task.objects.for_school(school_id)
        .filter(pk__in=ids)
        .exclude(pk__in=_archived_task_ids(school_id))
    )


# One task of a student's, for writes (an upload, a text): the SQL of student_tasks() for
# one task, built once per process; the start date is checked after the query.
_STUDENT_TASK = PreparedQuery(
    lambda school_id, student_id, pk: _assigned_tasks(school_id, student_id).filter(pk=pk)
)


def can_manage(user: User, task: Task) -> bool:
    return managed_tasks(user).filter(pk=task.pk).exists()


def get_task_for(
    user: User, pk: int, member_groups: Iterable[int] | None = None
) -> tuple[Task, bool]:
    """The task if the user may see it, and whether they manage it; else PermissionDenied.

    With `member_groups` (the student's groups with the role member, as pages know them)
    a student's task comes from the fragment cache (`visible_tasks`), without a query;
    without, from the database (what writes use)."""
    if not access.participates(user):
        raise PermissionDenied
    if user.is_teacher:
        task = managed_tasks(user).filter(pk=pk).first()
        if task is not None:
            return task, True
    elif user.is_student and member_groups is not None:
        for task in visible_tasks(user, member_groups):
            if task.pk == pk:
                return task, False
    elif user.is_student and 0 <= pk <= MAX_ID:  # a larger number is no task's
        found = _STUDENT_TASK.list(user.school_id, user.pk, pk)
        if found and found[0].starts_at <= timezone.now():
            return found[0], False
    raise PermissionDenied


# --- What a class sees, cached --------------------------------------------------------
# A student's tasks are those of their groups (tasks for everyone in the group) plus the
# ones assigned to them by name: `student_tasks()` as one query. The pages every student
# opens at 8:00 read the same thing from the fragment cache instead: one entry per group,
# shared by the whole class, and one per student for tasks assigned by name. Which rows
# feed which of these is declared in apps.py (kreide.core.fragments.feeds): any write of a
# task, its assignment or its worksheets renews them, through a service or not.


def group_tasks_scope(group_id: int) -> str:
    return f"group:{group_id}:tasks"


def student_tasks_scope(user_id: int) -> str:
    return f"user:{user_id}:tasks"


def task_attachments_scope(task_id: int) -> str:
    return f"task:{task_id}:attachments"


def _groups_scopes(task_id: int) -> list[str]:
    groups = Task.groups.through.objects.filter(task_id=task_id).values_list("group_id", flat=True)
    return [group_tasks_scope(group_id) for group_id in groups]


def task_scopes(task: Task) -> list[str]:
    """A task is in the lists of the groups and students it is for."""
    if task.pk is None:
        return []
    students = Task.students.through.objects.filter(task_id=task.pk).values_list(
        "user_id", flat=True
    )
    return _groups_scopes(task.pk) + [student_tasks_scope(user_id) for user_id in students]


def named_student_scopes(row) -> list[str]:
    """A Task.students row: the student's list, and the groups' lists, which leave out
    tasks for named students."""
    return [student_tasks_scope(row.user_id), *_groups_scopes(row.task_id)]


# The tasks assigned to a student by name (the SQL built once per process).
_NAMED_TASKS = PreparedQuery(
    lambda school_id, user_id: Task.objects.for_school(school_id).filter(students=user_id)
)


def _load_visible(school_id: int, user_id: int, names: dict[str, int | None], missing):
    """The fragments `missing` of visible_tasks(): `names` maps each to its group id, or
    None for the student's tasks by name. Two queries for any number of groups, one for
    the tasks by name."""
    values: dict[str, list[Task]] = {}
    groups = [names[name] for name in missing if names[name] is not None]
    if groups:
        pairs = list(
            Task.groups.through.objects.filter(group_id__in=groups).values_list(
                "group_id", "task_id"
            )
        )
        tasks = {
            task.pk: task
            for task in Task.objects.for_school(school_id).filter(
                pk__in={task_id for _group, task_id in pairs}, students__isnull=True
            )
        }
        by_group: dict[int, list[Task]] = {group_id: [] for group_id in groups}
        for group_id, task_id in pairs:
            if task_id in tasks:
                by_group[group_id].append(tasks[task_id])
        for name in missing:
            if names[name] is not None:
                values[name] = by_group[names[name]]
    for name in missing:
        if names[name] is None:
            values[name] = _NAMED_TASKS.list(school_id, user_id)
    return values


VISIBLE_SECONDS = 600  # how long visible_tasks()' fragments are cached


def _visible_names(user: User, member_groups: Iterable[int]) -> dict[str, int | None]:
    """The fragments of `visible_tasks()`: each name with its group id, or None for the
    student's tasks by name."""
    school_id = user.school_id
    names: dict[str, int | None] = {
        f"tasks:{school_id}:group:{group_id}": group_id for group_id in member_groups
    }
    names[_named_name(user)] = None
    return names


def _named_name(user: User) -> str:
    return f"tasks:{user.school_id}:student:{user.pk}"


def named_tasks_query(user: User) -> tuple[str, PreparedQuery, tuple]:
    """The fragment of visible_tasks() with the tasks given to `user` by name, and the
    query and arguments that compute it (as a list)."""
    return _named_name(user), _NAMED_TASKS, (user.school_id, user.pk)


def visible_tasks_fragments(user: User, member_groups: Iterable[int]) -> dict[str, list[str]]:
    """The fragments `visible_tasks()` reads, name -> scopes (for `fragments.prefetch`)."""
    return {
        name: [student_tasks_scope(user.pk) if group_id is None else group_tasks_scope(group_id)]
        for name, group_id in _visible_names(user, member_groups).items()
    }


def visible_tasks(
    user: User,
    member_groups: Iterable[int] | None = None,
    now: datetime | None = None,
    *,
    followed: bool = False,
) -> list[Task]:
    """What `student_tasks(user, now)` finds, as a list sorted by due date, from the
    fragment cache. `member_groups` are the ids of the student's groups with the role
    member (one query if not given). The start date is checked here, at reading time.
    `followed`: a parent's page asks (kreide.parents, which checked the link and passes
    the groups): the student need not have changed their initial password yet."""
    if not (user.is_student and (access.participates(user) or (followed and user.is_active))):
        return []
    if member_groups is None:
        member_groups = [row["group_id"] for row in access.group_ids(user, access.MEMBER)]
    member_groups = list(member_groups)
    names = _visible_names(user, member_groups)
    cached = fragments.cached_many(
        visible_tasks_fragments(user, member_groups),
        partial(_load_visible, user.school_id, user.pk, names),
        timeout=VISIBLE_SECONDS,
    )
    now = now or timezone.now()
    visible: dict[int, Task] = {}
    for tasks in cached.values():
        for task in tasks:
            if task.starts_at <= now:
                visible[task.pk] = task
    return sorted(visible.values(), key=lambda task: (task.due_at, task.pk))


def task_attachments(task: Task) -> list[Attachment]:
    """The task's worksheets (with their blobs), cached until one is added or removed."""

    def load() -> list[Attachment]:
        return list(
            Attachment.objects.for_school(task.school_id).filter(task=task).select_related("blob")
        )

    ((name, scopes),) = task_attachments_fragment(task.pk).items()
    return fragments.cached(name, scopes, load, timeout=600)


def task_attachments_fragment(task_id: int) -> dict[str, list[str]]:
    """The fragment `task_attachments()` reads, name -> scopes (for `fragments.prefetch`)."""
    return {f"tasks:attachments:{task_id}": [task_attachments_scope(task_id)]}


# The student's submissions of some tasks, for the task list (built once per number of
# tasks); unordered: the model's order joins the tasks and users for nothing here.
_SUBMISSIONS = PreparedQuery(
    lambda school_id, student_id, task_ids: (
        Submission.objects.for_school(school_id)
        .filter(student_id=student_id, task_id__in=task_ids)
        .order_by()
    )
)


def student_task_list(
    user: User, member_groups: Iterable[int] | None = None, *, followed: bool = False
) -> list[Task]:
    """The student's tasks sorted by due date, each with `.mine` (their submission or None)
    and `.state`: one query for the submissions, the tasks come from the cache.
    `followed`: see visible_tasks."""
    now = timezone.now()
    tasks = visible_tasks(user, member_groups, now, followed=followed)
    mine = {}
    if tasks:
        mine = {
            submission.task_id: submission
            for submission in _SUBMISSIONS.list(
                user.school_id, user.pk, [task.pk for task in tasks]
            )
        }
    for task in tasks:
        task.mine = mine.get(task.pk)
        task.state = state_of(task, task.mine, now)
    return tasks


def state_of(task: Task, submission: Submission | None, now: datetime | None = None) -> str:
    """open, draft, submitted, returned, reviewed or overdue: what the student sees."""
    if submission is not None and submission.status == Submission.Status.DRAFT:
        closed = task.is_past_due(now) and not task.accept_late
        return "overdue" if closed else "draft"
    if submission is not None:
        if submission.status == Submission.Status.REVIEWED:
            return "reviewed"
        if submission.status == Submission.Status.RETURNED:
            return "returned"
        return "submitted"
    return "overdue" if task.is_past_due(now) else "open"


def assignees(task: Task) -> list[User]:
    """The students a task is for (one query)."""
    school = task.school_id
    selected = Task.students.through.objects.filter(task=task).values("user_id")
    if Task.students.through.objects.filter(task=task).exists():
        query = Q(pk__in=selected)
    else:
        query = Q(pk__in=access.member_ids(school, task.groups.all()))
    return list(
        User.objects.for_school(school)
        .filter(query, is_active=True, role=User.Role.STUDENT)
        .order_by("last_name", "first_name", "pk")
    )


HANDED_IN = [Submission.Status.SUBMITTED, Submission.Status.RETURNED, Submission.Status.REVIEWED]


def _assigned_ids(tasks: list[Task]) -> dict[int, set[int]]:
    """For each task, the ids of the active students it is for: two queries for any number
    of tasks (students by name, then the members of every group of the tasks)."""
    if not tasks:
        return {}
    school_id = tasks[0].school_id
    by_name: dict[int, set[int]] = {}
    for task_id, user_id in Task.students.through.objects.filter(
        task__in=tasks, user__is_active=True
    ).values_list("task_id", "user_id"):
        by_name.setdefault(task_id, set()).add(user_id)
    members = access.members_by_group(
        school_id, {group.pk for task in tasks for group in task.groups.all()}
    )
    return {
        task.pk: by_name.get(task.pk)
        or set().union(*(members.get(group.pk, set()) for group in task.groups.all()))
        for task in tasks
    }


def teacher_task_list(teacher: User) -> list[Task]:
    """The teacher's tasks, newest due first, each with `.assigned` (students), `.handed_in`
    and `.to_review` (handed in, not yet reviewed): four queries for any number of tasks."""
    handed_in = Q(submissions__status__in=HANDED_IN)
    tasks = list(
        managed_tasks(teacher)
        .annotate(
            handed_in=Count("submissions", filter=handed_in),
            to_review=Count(
                "submissions", filter=Q(submissions__status=Submission.Status.SUBMITTED)
            ),
        )
        .prefetch_related("groups")
        .order_by("-due_at")
    )
    assigned = _assigned_ids(tasks)
    for task in tasks:
        task.assigned = len(assigned[task.pk])
    return tasks


# --- Teachers: tasks ------------------------------------------------------------------


@transaction.atomic
def save_task(
    teacher: User,
    task: Task,
    groups: Iterable[Group],
    students: Iterable[User],
    upload_ids: Iterable[str] = (),
) -> Task:
    """Create or update a task after checking the teacher teaches every chosen group."""
    groups, students = list(groups), list(students)
    taught = set(access.taught_groups(teacher).values_list("pk", flat=True))
    if not groups or any(group.pk not in taught for group in groups):
        raise PermissionDenied(_("You can only assign tasks to classes and groups you teach."))
    if task.pk and not can_manage(teacher, task):
        raise PermissionDenied
    member_ids = {row["user_id"] for row in access.member_ids(teacher.school_id, groups)}
    if any(student.pk not in member_ids for student in students):
        raise PermissionDenied(_("Selected students must belong to the chosen groups."))
    created = task.pk is None
    task.school_id = teacher.school_id
    if created:
        task.created_by = teacher
    task.description_html = render_markdown(task.description)
    task.save()
    task.groups.set(groups)
    task.students.set(students)
    attach_uploads(teacher, task, upload_ids)
    if created:
        task_events.task_created.publish(task_id=task.pk)
    return task


def attach_uploads(teacher: User, task: Task, upload_ids: Iterable[str]) -> list[Attachment]:
    """Attach worksheets the teacher uploaded before the task existed (upload widget)."""
    ids = [str(value) for value in upload_ids if value]
    if not ids:
        return []
    uploads = Upload.objects.for_school(teacher.school_id).filter(
        pk__in=ids, user=teacher, purpose="task-attachment", blob__isnull=False
    )
    return [add_attachment(teacher, task, upload.blob, upload.filename) for upload in uploads]


def add_attachment(teacher: User, task: Task, blob: Blob, filename: str) -> Attachment:
    if not can_manage(teacher, task):
        raise PermissionDenied
    attachment, _created = Attachment.objects.for_school(task.school_id).get_or_create(
        school_id=task.school_id, task=task, blob=blob, filename=filename
    )
    return attachment


def remove_attachment(teacher: User, attachment: Attachment) -> None:
    if not can_manage(teacher, attachment.task):
        raise PermissionDenied
    attachment.delete()


@transaction.atomic
def delete_task(teacher: User, task: Task) -> None:
    if not can_manage(teacher, task):
        raise PermissionDenied
    task.delete()


# --- Students: submissions ------------------------------------------------------------


def check_can_submit(
    student: User,
    task: Task,
    submission: Submission | None,
    at: datetime | None = None,
    *,
    assigned: bool = False,
) -> None:
    """Raise SubmissionRefused unless the student may change their submission at `at`.
    `assigned`: the caller had the task from get_task_for() as the student's (not managed),
    i.e. from student_tasks() already; the same query is not asked twice."""
    if not assigned and not student_tasks(student).filter(pk=task.pk).exists():
        raise SubmissionRefused(_("This task is not assigned to you."))
    refusal = submission_refusal(task, submission, at)
    if refusal:
        raise SubmissionRefused(refusal)


def submission_refusal(
    task: Task, submission: Submission | None, at: datetime | None = None
) -> str:
    """Why a student who has the task may not change their submission now ("" if they may);
    no query, for pages that already checked the assignment."""
    if submission is not None and submission.status == Submission.Status.REVIEWED:
        return _("Your submission has been reviewed and can no longer be changed.")
    if submission is not None and submission.status == Submission.Status.SUBMITTED:
        return _("You have handed this in. Take it back to change it.")
    returned = submission is not None and submission.status == Submission.Status.RETURNED
    if task.is_past_due(at) and not task.accept_late and not returned:
        return _("The due date has passed; this task accepts no late submissions.")
    return ""


def _submission_query(school_id: int, task_id: int, student_id: int, lock: bool) -> QuerySet:
    # At most one row (unique per task and student): no ordering, whose join would also
    # lock the student's row.
    query = (
        Submission.objects.for_school(school_id).filter(task=task_id, student=student_id).order_by()
    )
    return query.select_for_update() if lock else query


# The SQL of my_submission(), plain and locked, built once per process.
_MY_SUBMISSION = {
    lock: PreparedQuery(partial(_submission_query, lock=lock)) for lock in (False, True)
}


def my_submission(student: User, task: Task, lock: bool = False) -> Submission | None:
    found = _MY_SUBMISSION[lock].list(task.school_id, task.pk, student.pk)
    return found[0] if found else None


# The submission's, its files' and their blobs' columns, in this order.
_SHOWN_COLUMNS = tuple(
    (model, [field.attname for field in model._meta.concrete_fields])
    for model in (Submission, SubmissionFile, Blob)
)


def _with_files_query(school_id: int, task_id: int, student_id: int) -> QuerySet:
    """my_submission()'s row once for each of its files (in their order), with the file's
    and its blob's columns (NULL without files): one statement instead of two."""
    return (
        _submission_query(school_id, task_id, student_id, lock=False)
        .alias(school_files=FilteredRelation("files", condition=Q(files__school_id=school_id)))
        .values_list(
            *_SHOWN_COLUMNS[0][1],
            *(f"school_files__{name}" for name in _SHOWN_COLUMNS[1][1]),
            *(f"school_files__blob__{name}" for name in _SHOWN_COLUMNS[2][1]),
        )
        .order_by("school_files__created_at", "school_files__pk")
    )


_WITH_FILES = PreparedQuery(_with_files_query)


def my_submission_with_files(student: User, task: Task) -> Submission | None:
    """my_submission() with its files (`.files.all()`, each with its blob) read along."""
    rows = _WITH_FILES.list(task.school_id, task.pk, student.pk)
    if not rows:
        return None
    db = router.db_for_read(Submission)
    (submission_model, submission_names), (file_model, file_names), (blob_model, blob_names) = (
        _SHOWN_COLUMNS
    )
    files_at, blobs_at = len(submission_names), len(submission_names) + len(file_names)
    submission = submission_model.from_db(db, submission_names, rows[0][:files_at])
    files = []
    for row in rows:
        if row[files_at] is None:  # the LEFT JOIN's row of a submission without files
            continue
        file = file_model.from_db(db, file_names, row[files_at:blobs_at])
        blob = blob_model.from_db(db, blob_names, row[blobs_at:])
        file_model.blob.field.set_cached_value(file, blob)
        files.append(file)
    set_prefetched(submission, "files", files)
    return submission


def _new_draft(task: Task, student: User) -> Submission:
    return Submission(
        school_id=task.school_id, task=task, student=student, status=Submission.Status.DRAFT
    )


@transaction.atomic
def save_text(student: User, task: Task, text: str) -> Submission | None:
    """Save the student's text in their draft (nothing is handed in yet)."""
    if not task.accepts_text:
        raise SubmissionRefused(_("This task expects no text."))
    submission = my_submission(student, task, lock=True)
    check_can_submit(student, task, submission)
    text = text.strip()
    if submission is None:
        if not text:
            return None
        submission = _new_draft(task, student)
    submission.task = task
    submission.text = text
    submission.changed_at = timezone.now()
    submission.save()
    _drop_if_empty(submission)
    return submission if submission.pk else None


# The student's draft with the time of a change: created, or (unique per task and student)
# the existing row locked and its `changed_at` renewed, in one statement.
_CHANGED_DRAFT = PreparedInsert(Submission, conflict=["task", "student"], update=["changed_at"])
_NEW_FILE = PreparedInsert(SubmissionFile)


# Within an upload's transaction no savepoint: a refusal ends that whole transaction (and
# with it the change of the draft it is checked on).
@transaction.atomic(savepoint=False)
def add_file(
    student: User,
    task: Task,
    blob: Blob,
    filename: str,
    started_at: datetime,
    *,
    assigned: bool = False,
) -> SubmissionFile:
    """Add an uploaded file to the draft; it counts at the time its upload started
    (`assigned` as for check_can_submit)."""
    if not task.accepts_files:
        raise SubmissionRefused(_("This task expects no files."))
    now = timezone.now()
    draft = _new_draft(task, student)
    draft.submitted_at = draft.changed_at = now
    # A new draft is checked as no submission would be: both may change.
    submission = _CHANGED_DRAFT.row(draft)
    check_can_submit(student, task, submission, at=started_at, assigned=assigned)
    submission.task = task
    received = timezone.now()
    added = SubmissionFile(
        school_id=task.school_id,
        submission=submission,
        blob=blob,
        filename=filename,
        upload_started_at=started_at,
        created_at=received,
        finished_after_due=started_at <= task.due_at < received,
    )
    return _NEW_FILE.insert(added)


@transaction.atomic
def remove_file(student: User, submitted: SubmissionFile) -> None:
    submission = submitted.submission
    if submission.student_id != student.pk:
        raise PermissionDenied
    check_can_submit(student, submission.task, submission)
    submitted.delete()
    submission.changed_at = timezone.now()
    submission.save(update_fields=["changed_at"])
    _drop_if_empty(submission)


def _drop_if_empty(submission: Submission) -> None:
    """A draft without text and files is no draft: there is nothing to hand in."""
    if (
        submission.status == Submission.Status.DRAFT
        and not submission.text
        and not submission.files.exists()
    ):
        submission.delete()


# An upload begun before the due date may finish after it; handing it in within this
# time after it arrived still counts as on time.
HAND_IN_GRACE = timezone.timedelta(minutes=15)


def _counts_at(task: Task, files: list[SubmissionFile], now: datetime) -> datetime:
    """The time a hand-in now counts at: now, or the start of an upload that began before
    the due date and arrived after it, if handed in within HAND_IN_GRACE of its arrival."""
    if not task.is_past_due(now):
        return now
    running = [f for f in files if f.finished_after_due and now <= f.created_at + HAND_IN_GRACE]
    return max((f.upload_started_at for f in running), default=now)


def missing_content(task: Task, text: str, file_count: int) -> str:
    """What the task expects that the draft lacks ("" if complete)."""
    if task.accepts_files and not file_count:
        return _("Add at least one file before handing in.")
    if task.accepts_text and not text:
        return _("Write your text before handing in.")
    return ""


def receipt_of(submission: Submission, files: list[SubmissionFile]) -> str:
    """SHA-256 over what was handed in: task, student, time, text and each file's hash."""
    digest = hashlib.sha256()
    parts = [
        f"task:{submission.task_id}",
        f"student:{submission.student_id}",
        f"at:{submission.handed_in_at.isoformat()}",
        f"text:{hashlib.sha256(submission.text.encode()).hexdigest()}",
        *(f"file:{f.blob.sha256}:{f.filename}" for f in files),
    ]
    for part in parts:
        digest.update(part.encode() + b"\n")
    return digest.hexdigest()


@transaction.atomic
def hand_in(student: User, task: Task) -> Submission:
    """Hand the draft (or a submission returned for revision) in: from now on the teacher
    sees it, and the student gets a receipt."""
    submission = my_submission(student, task, lock=True)
    if submission is None or submission.status not in (
        Submission.Status.DRAFT,
        Submission.Status.RETURNED,
    ):
        raise SubmissionRefused(_("There is nothing to hand in."))
    submission.task = task
    files = list(submission.files.select_related("blob"))
    now = timezone.now()
    at = _counts_at(task, files, now)
    check_can_submit(student, task, submission, at=at)
    missing = missing_content(task, submission.text, len(files))
    if missing:
        raise SubmissionRefused(missing)
    if submission.status == Submission.Status.DRAFT:
        submission.late = task.is_past_due(at)
    submission.status = Submission.Status.SUBMITTED
    submission.handed_in_at = now
    submission.changed_at = now
    submission.receipt = receipt_of(submission, files)
    submission.save()
    return submission


def take_back_refusal(task: Task, submission: Submission | None) -> str:
    """Why the student may not take their submission back now ("" if they may)."""
    if submission is None or submission.status != Submission.Status.SUBMITTED:
        return _("There is no handed-in submission to take back.")
    if task.is_past_due() and not task.accept_late:
        return _("The due date has passed; this task accepts no late submissions.")
    return ""


@transaction.atomic
def take_back(student: User, task: Task) -> Submission:
    """Turn a handed-in submission not yet reviewed back into a draft, while the task
    still takes submissions."""
    submission = my_submission(student, task, lock=True)
    refusal = take_back_refusal(task, submission)
    if refusal:
        raise SubmissionRefused(refusal)
    submission.status = Submission.Status.DRAFT
    submission.handed_in_at = None
    submission.receipt = ""
    submission.late = False
    submission.changed_at = timezone.now()
    submission.save()
    return submission


def mark_feedback_seen(submission: Submission | None) -> None:
    if submission is not None and submission.feedback_is_new:
        submission.feedback_seen_at = timezone.now()
        Submission.objects.for_school(submission.school_id).filter(pk=submission.pk).update(
            feedback_seen_at=submission.feedback_seen_at
        )


def not_handed_in(task: Task) -> list[User]:
    """The task's students without a handed-in submission (two queries)."""
    handed_in = set(
        Submission.objects.for_school(task.school_id)
        .filter(task=task)
        .exclude(status=Submission.Status.DRAFT)
        .values_list("student_id", flat=True)
    )
    return [student for student in assignees(task) if student.pk not in handed_in]


def remind_missing(teacher: User, task: Task, task_url: str) -> int:
    """A direct message in the messenger to each student who has not handed in yet;
    one reminder per task and day. Returns how many were sent."""
    from kreide.messenger.services import send_direct_notices

    if not can_manage(teacher, task):
        raise PermissionDenied
    due = timezone.localtime(task.due_at)
    text = _("Reminder: please hand in “%(title)s” by %(due)s: %(url)s") % {
        "title": task.title,
        "due": due.strftime("%d.%m.%Y %H:%M"),
        "url": task_url,
    }
    key = f"remind-{task.pk}-{timezone.localdate():%Y%m%d}"
    return send_direct_notices(teacher, not_handed_in(task), text, key)


def copy_targets(teacher: User, task: Task) -> QuerySet[Group]:
    """The classes and groups the teacher could copy a task to: those they teach that the
    task is not for yet."""
    return (
        access.taught_groups(teacher)
        .exclude(pk__in=task.groups.values("pk"))
        .order_by("grade", "name")
    )


@transaction.atomic
def copy_task(teacher: User, task: Task, groups: Iterable[Group]) -> Task:
    """A new task with the same content and worksheets for other classes (for everyone in
    them: students picked by name stay with the original)."""
    if not can_manage(teacher, task):
        raise PermissionDenied
    copy = Task(
        title=task.title,
        description=task.description,
        starts_at=task.starts_at,
        due_at=task.due_at,
        accept_late=task.accept_late,
        expects=task.expects,
        max_file_mb=task.max_file_mb,
    )
    copy = save_task(teacher, copy, groups, [])
    for attachment in task_attachments(task):
        add_attachment(teacher, copy, attachment.blob, attachment.filename)
    return copy


# --- Teachers: review -----------------------------------------------------------------


@transaction.atomic
def review(
    teacher: User,
    submission: Submission,
    feedback: str,
    points=None,
    grade: str = "",
    return_for_revision: bool = False,
) -> Submission:
    if not can_manage(teacher, submission.task) or not submission.is_handed_in:
        raise PermissionDenied
    submission.feedback = feedback.strip()
    submission.points = points
    submission.grade = grade.strip()
    submission.status = (
        Submission.Status.RETURNED if return_for_revision else Submission.Status.REVIEWED
    )
    submission.reviewed_by = teacher
    submission.reviewed_at = timezone.now()
    submission.save()
    task_events.feedback_given.publish(submission_id=submission.pk, returned=return_for_revision)
    return submission
