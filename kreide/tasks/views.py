"""Task pages. Thin: permissions and writes live in kreide.tasks.services."""

from __future__ import annotations

from collections.abc import Callable

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from kreide.core import fragments
from kreide.core.admission import heavy
from kreide.schools import access
from kreide.storage import previews
from kreide.storage.downloads import blob_response, content_disposition
from kreide.storage.filenames import safe_filename
from kreide.storage.zipstream import stream_zip
from kreide.tasks import services
from kreide.tasks.forms import CopyForm, ReviewForm, TaskForm, TextForm
from kreide.tasks.models import Attachment, Submission, SubmissionFile, Task


def _member_groups(request: HttpRequest) -> list[int]:
    """The signed-in student's groups (role member), loaded once per request."""
    return access.request_group_ids(request, access.MEMBER)


def _task(
    request: HttpRequest, pk: int, manage: bool | None = None, cached: bool = False
) -> tuple[Task, bool]:
    """The task as the user may see it; another school's or class's task is a 404.
    `cached`: for pages that only show it, a student's task may come from the cache."""
    user = request.user
    try:
        task, manages = services.get_task_for(
            user, pk, _member_groups(request) if cached and user.is_student else None
        )
    except PermissionDenied as exc:
        raise Http404 from exc
    if manage is not None and manage != manages:
        raise Http404
    return task, manages


def _attachments(task: Task) -> list[Attachment]:
    return services.task_attachments(task)


def _page_fragments(request: HttpRequest, task_id: int | None) -> dict[str, list[str]]:
    """The fragments (name -> scopes) a student's task list, or task `task_id`, reads: the
    class's task lists (and the task's worksheets)."""
    needed = services.visible_tasks_fragments(request.user, _member_groups(request))
    if task_id is not None:
        needed.update(services.task_attachments_fragment(task_id))
    return needed


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.is_teacher:
        tasks = services.teacher_task_list(user)
        can_create = access.taught_groups(user).exists()
        return render(
            request, "tasks/list_teacher.html", {"tasks": tasks, "can_create": can_create}
        )
    # A student's class task lists: versions and entries with the page's keys, one round
    # trip. What a first visit misses (the student's new version and entry, the
    # navigation's counts computed while the page renders) is written in one at the end.
    with fragments.batch():
        if user.is_student:
            fragments.prefetch_with_page(request, [], entries=_page_fragments(request, None))
        tasks = services.student_task_list(user, _member_groups(request))
        return render(request, "tasks/list_student.html", {"tasks": tasks, "now": timezone.now()})


@login_required
def task_create(request: HttpRequest) -> HttpResponse:
    if not access.taught_groups(request.user).exists():
        raise Http404
    return _task_form(request, Task(due_at=timezone.now() + timezone.timedelta(days=7)))


@login_required
def task_edit(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=True)
    return _task_form(request, task)


def _task_form(request: HttpRequest, task: Task) -> HttpResponse:
    teacher = request.user
    initial = (
        {} if task.pk else {"starts_at": timezone.localtime().replace(second=0, microsecond=0)}
    )
    form = TaskForm(request.POST or None, instance=task, teacher=teacher, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_task(
                teacher,
                form.save(commit=False),
                form.cleaned_data["groups"],
                form.cleaned_data["students"],
                request.POST.getlist("attachments"),
            )
        except PermissionDenied as refused:
            form.add_error(None, str(refused) or _("You may not do that."))
        else:
            messages.success(request, _("The task has been saved."))
            return redirect("tasks:detail", saved.pk)
    return render(
        request,
        "tasks/form.html",
        {
            "form": form,
            "task": task,
            "attachments": _attachments(task) if task.pk else [],
        },
    )


@login_required
def task_delete(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=True)
    count = Submission.objects.for_school(task.school_id).filter(task=task).count()
    if request.method == "POST":
        services.delete_task(request.user, task)
        messages.success(request, _("The task has been deleted."))
        return redirect("tasks:list")
    return render(request, "tasks/confirm_delete.html", {"task": task, "count": count})


@login_required
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_student:
        # Anyone else who may see a task manages it (get_task_for): its overview.
        task, _manages = _task(request, pk, manage=True)
        return _overview(request, task)
    # The class's task lists and the task's worksheets: their versions and entries with the
    # page's keys in one round trip (only read: the address may name no task). What a first
    # visit misses (with the navigation's counts computed while the page renders) is
    # written in one at the end.
    with fragments.batch():
        fragments.prefetch_with_page(
            request, [], create=False, entries=_page_fragments(request, pk)
        )
        task, _manages = _task(request, pk, cached=True)
        attachments = _attachments(task)
        submission = services.my_submission_with_files(request.user, task)
        services.mark_feedback_seen(submission)
        return render(
            request,
            "tasks/detail_student.html",
            {**_student_context(task, submission), "attachments": attachments},
        )


def _student_context(task: Task, submission: Submission | None) -> dict:
    # The task came through get_task_for(): it is assigned and visible to this student.
    files = list(submission.files.all()) if submission else []
    return {
        "task": task,
        "submission": submission,
        "files": files,  # listed once: the template shows them twice
        "refusal": services.submission_refusal(task, submission),
        "state": services.state_of(task, submission),
        "missing": services.missing_content(task, submission.text, len(files))
        if submission
        else "",
        "can_take_back": not services.take_back_refusal(task, submission),
    }


def _overview(request: HttpRequest, task: Task) -> HttpResponse:
    submissions = {
        submission.student_id: submission
        for submission in Submission.objects.for_school(task.school_id)
        .filter(task=task)
        .annotate(file_count=Count("files"))
    }
    rows = [(student, submissions.get(student.pk)) for student in services.assignees(task)]
    handed_in = [s for s in submissions.values() if s.is_handed_in]
    waiting = [s for _student, s in rows if s and s.status == Submission.Status.SUBMITTED]
    return render(
        request,
        "tasks/detail_teacher.html",
        {
            "task": task,
            "rows": rows,
            "attachments": _attachments(task),
            "handed_in": len(handed_in),
            "to_review": len(waiting),
            "first_to_review": waiting[0].pk if waiting else None,
            "missing": len(rows) - len(handed_in),
            "groups": list(task.groups.all()),
            "copy_form": CopyForm(teacher=request.user, task=task),
        },
    )


@login_required
@require_POST
def remind(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=True)
    sent = services.remind_missing(
        request.user, task, request.build_absolute_uri(reverse("tasks:detail", args=[task.pk]))
    )
    if sent:
        messages.success(
            request,
            ngettext(
                "A reminder went to %(count)d student as a direct message.",
                "A reminder went to %(count)d students as direct messages.",
                sent,
            )
            % {"count": sent},
        )
    else:
        messages.info(request, _("Nobody needed a reminder (or they got one today)."))
    return redirect("tasks:detail", task.pk)


@login_required
@require_POST
def copy(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=True)
    form = CopyForm(request.POST, teacher=request.user, task=task)
    if not form.is_valid():
        messages.error(request, _("Choose at least one class or group to copy the task to."))
        return redirect("tasks:detail", task.pk)
    try:
        services.copy_task(request.user, task, form.cleaned_data["groups"])
    except PermissionDenied as refused:
        messages.error(request, str(refused) or _("You may not do that."))
    else:
        messages.success(
            request,
            _("The task has been copied to %(groups)s.")
            % {"groups": ", ".join(group.name for group in form.cleaned_data["groups"])},
        )
    return redirect("tasks:list")


@login_required
def attachments_partial(request: HttpRequest, pk: int) -> HttpResponse:
    task, manages = _task(request, pk, cached=True)
    return render(
        request,
        "tasks/_attachments.html",
        {"task": task, "attachments": _attachments(task), "manages": manages},
    )


@login_required
def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    task, _manages = _task(request, pk)
    attachment = get_object_or_404(
        Attachment.objects.for_school(task.school_id).select_related("blob"),
        pk=attachment_id,
        task=task,
    )
    return blob_response(attachment.blob, attachment.filename)


@login_required
@require_POST
def attachment_delete(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=True)
    attachment = get_object_or_404(
        Attachment.objects.for_school(task.school_id), pk=attachment_id, task=task
    )
    attachment.task = task
    services.remove_attachment(request.user, attachment)
    messages.success(request, _("The attachment has been removed."))
    return redirect("tasks:edit", task.pk)


@login_required
def my_submission_partial(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=False, cached=True)
    return render(
        request,
        "tasks/_my_submission.html",
        _student_context(task, services.my_submission_with_files(request.user, task)),
    )


@login_required
@require_POST
def submit_text(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=False)
    form = TextForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The text is too long."))
        return redirect("tasks:detail", task.pk)
    return _student_action(
        request,
        task,
        lambda: services.save_text(request.user, task, form.cleaned_data["text"]),
        _("Your text has been saved. It is not handed in yet."),
    )


def _student_action(
    request: HttpRequest, task: Task, action: Callable[[], object], done: str
) -> HttpResponse:
    """Run a student's change to their own submission and go back to the task: a refusal
    is read there as a message (never a blank one), success as `done`."""
    try:
        action()
    except PermissionDenied as refused:
        messages.error(request, str(refused) or _("You may not do that."))
    else:
        messages.success(request, done)
    return redirect("tasks:detail", task.pk)


def _own_file(request: HttpRequest, task: Task, file_id: int) -> SubmissionFile:
    return get_object_or_404(
        SubmissionFile.objects.for_school(task.school_id).select_related("submission", "blob"),
        pk=file_id,
        submission__task=task,
        submission__student=request.user,
    )


@login_required
@require_POST
def file_delete(request: HttpRequest, pk: int, file_id: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=False)
    submitted = _own_file(request, task, file_id)
    submitted.submission.task = task
    return _student_action(
        request,
        task,
        lambda: services.remove_file(request.user, submitted),
        _("The file has been removed."),
    )


@login_required
@require_POST
def hand_in(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=False)
    return _student_action(
        request,
        task,
        lambda: services.hand_in(request.user, task),
        _("Handed in. Your receipt is below."),
    )


@login_required
@require_POST
def take_back(request: HttpRequest, pk: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=False)
    return _student_action(
        request,
        task,
        lambda: services.take_back(request.user, task),
        _("Taken back: change it and hand it in again."),
    )


def _submitted_file(request: HttpRequest, task: Task, manages: bool, file_id: int):
    """A file of a submission: any handed-in one for the task's teachers, else one's own."""
    if not manages:
        return _own_file(request, task, file_id)
    return get_object_or_404(
        SubmissionFile.objects.for_school(task.school_id).select_related("blob"),
        pk=file_id,
        submission__task=task,
        submission__status__in=services.HANDED_IN,
    )


@login_required
def submission_file(request: HttpRequest, pk: int, file_id: int) -> HttpResponse:
    task, manages = _task(request, pk)
    submitted = _submitted_file(request, task, manages, file_id)
    return blob_response(submitted.blob, submitted.filename)


@xframe_options_sameorigin
@csp_replace({"frame-ancestors": ["'self'"]})
@login_required
def submission_preview(request: HttpRequest, pk: int, file_id: int) -> HttpResponse:
    """An image or PDF inline, for the marking page's <img> or <iframe> (same origin only)."""
    task, manages = _task(request, pk)
    submitted = _submitted_file(request, task, manages, file_id)
    if previews.preview_kind(submitted.filename) not in ("image", "pdf"):
        raise Http404
    return blob_response(submitted.blob, submitted.filename, inline=True)


def _with_previews(files: list[SubmissionFile]) -> list[SubmissionFile]:
    for submitted in files:
        submitted.preview = previews.preview_kind(submitted.filename)
        if submitted.preview == "text":
            submitted.text, submitted.cut = previews.text_preview(submitted.blob)
    return files


def _neighbours(task: Task, submission: Submission) -> tuple[int | None, int | None, int | None]:
    """The previous and next handed-in submission in the list's order (by name), and the
    next one still to review after this one (else the first before it): one query."""
    order = list(
        Submission.objects.for_school(task.school_id)
        .filter(task=task, status__in=services.HANDED_IN)
        .order_by("student__last_name", "student__first_name", "student_id")
        .values_list("pk", "status")
    )
    ids = [pk for pk, _status in order]
    at = ids.index(submission.pk)
    previous = ids[at - 1] if at > 0 else None
    following = ids[at + 1] if at + 1 < len(ids) else None
    waiting = [pk for pk, status in order[at + 1 :] + order[:at] if status == "submitted"]
    return previous, following, waiting[0] if waiting else None


@login_required
def submission_detail(request: HttpRequest, pk: int, submission_id: int) -> HttpResponse:
    task, _manages = _task(request, pk, manage=True)
    submission = get_object_or_404(
        Submission.objects.for_school(task.school_id)
        .select_related("student")
        .prefetch_related(
            Prefetch(
                "files",
                queryset=SubmissionFile.objects.for_school(task.school_id).select_related("blob"),
            )
        ),
        pk=submission_id,
        task=task,
        status__in=services.HANDED_IN,
    )
    submission.task = task
    previous, following, to_review = _neighbours(task, submission)
    form = ReviewForm(
        request.POST or None,
        instance=submission,
        initial={"return_for_revision": submission.status == "returned"},
    )
    if request.method == "POST" and form.is_valid():
        services.review(
            request.user,
            submission,
            form.cleaned_data["feedback"],
            form.cleaned_data["points"],
            form.cleaned_data["grade"],
            form.cleaned_data["return_for_revision"],
        )
        messages.success(request, _("Your feedback has been saved."))
        if "next" in request.POST and to_review:
            return redirect("tasks:submission", task.pk, to_review)
        return redirect("tasks:detail", task.pk)
    return render(
        request,
        "tasks/submission.html",
        {
            "task": task,
            "submission": submission,
            "files": _with_previews(list(submission.files.all())),
            "form": form,
            "previous": previous,
            "following": following,
            "to_review": to_review,
        },
    )


@heavy  # a long streamed response: admitted last and few at once under load
@login_required
def submissions_zip(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    task, _manages = _task(request, pk, manage=True)
    submissions = list(
        Submission.objects.for_school(task.school_id)
        .filter(task=task, status__in=services.HANDED_IN)
        .select_related("student")
        .prefetch_related(
            Prefetch(
                "files",
                queryset=SubmissionFile.objects.for_school(task.school_id).select_related("blob"),
            )
        )
    )
    response = StreamingHttpResponse(
        stream_zip(zip_members(submissions)), content_type="application/zip"
    )
    response["Content-Disposition"] = content_disposition(safe_filename(f"{task.title}.zip"))
    response["Cache-Control"] = "private, no-store"
    return response


def zip_members(submissions: list[Submission]):
    """One folder per student, named safely and uniquely; the text as Text.txt."""
    for submission in submissions:
        student = submission.student
        folder = safe_filename(f"{student.last_name}, {student.first_name} ({student.username})")
        used: set[str] = set()
        if submission.text:
            used.add("Text.txt")
            yield f"{folder}/Text.txt", submission.text.encode(), submission.changed_at
        for submitted in submission.files.all():
            name = _unique(safe_filename(submitted.filename), used)
            yield f"{folder}/{name}", submitted.blob, submitted.created_at


def _unique(name: str, used: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    candidate, number = name, 2
    while candidate.lower() in used:
        candidate = f"{stem} ({number}){dot}{extension}"
        number += 1
    used.add(candidate.lower())
    return candidate
