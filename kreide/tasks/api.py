"""JSON API under /api/v1/tasks/ with the same permission checks as the pages.

Authentication and errors are the API's (kreide.api.auth): a personal token or the
browser session. Files are
uploaded with tus at /uploads/ (purposes `task-attachment`, `task-submission`) and
downloaded from the `url` each file carries. /api/v1/openapi.json describes it all.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from kreide.api.auth import ApiError, api
from kreide.core import jsonbody
from kreide.core.errors import Refusal
from kreide.schools import access
from kreide.tasks import services
from kreide.tasks.forms import ReviewForm, TaskForm, TextForm
from kreide.tasks.models import Submission, SubmissionFile, Task

app_name = "api"


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        return jsonbody.request_object(request)
    except jsonbody.JSONBodyError as exc:
        raise ApiError(400, _("The request body must be a JSON object.")) from exc


def _task(request: HttpRequest, pk: int, manage: bool | None = None) -> tuple[Task, bool]:
    task, manages = services.get_task_for(request.user, pk)
    if manage is not None and manage != manages:
        raise PermissionDenied
    return task, manages


def _file_json(task: Task, submitted: SubmissionFile) -> dict[str, Any]:
    return {
        "id": submitted.pk,
        "filename": submitted.filename,
        "size": submitted.blob.size,
        "sha256": submitted.blob.sha256,
        "received_at": submitted.created_at.isoformat(),
        "upload_started_at": submitted.upload_started_at.isoformat(),
        "finished_after_due": submitted.finished_after_due,
        "url": reverse("tasks:submission-file", args=[task.pk, submitted.pk]),
    }


def _submission_json(task: Task, submission: Submission | None) -> dict[str, Any] | None:
    if submission is None:
        return None
    return {
        "id": submission.pk,
        "student": submission.student_id,
        "status": submission.status,
        "text": submission.text,
        "late": submission.late,
        "submitted_at": submission.submitted_at.isoformat(),
        "handed_in_at": submission.handed_in_at.isoformat() if submission.handed_in_at else None,
        "receipt": submission.receipt or None,
        "receipt_code": submission.receipt_code or None,
        "changed_at": submission.changed_at.isoformat(),
        "files": [_file_json(task, submitted) for submitted in submission.files.all()],
        "feedback": submission.feedback if submission.has_feedback else None,
        "points": (
            str(submission.points)
            if submission.has_feedback and submission.points is not None
            else None
        ),
        "grade": submission.grade if submission.has_feedback else None,
    }


def _task_json(task: Task, manages: bool, detail: bool = False) -> dict[str, Any]:
    data = {
        "id": task.pk,
        "title": task.title,
        "starts_at": task.starts_at.isoformat(),
        "due_at": task.due_at.isoformat(),
        "accept_late": task.accept_late,
        "expects": task.expects,
        "max_file_mb": task.max_file_mb,
        "url": reverse("tasks:detail", args=[task.pk]),
    }
    if hasattr(task, "state"):
        data["state"] = task.state
    if detail:
        data["description"] = task.description
        data["description_html"] = task.description_html
        data["attachments"] = [
            {
                "id": attachment.pk,
                "filename": attachment.filename,
                "size": attachment.blob.size,
                "sha256": attachment.blob.sha256,
                "url": reverse("tasks:attachment", args=[task.pk, attachment.pk]),
            }
            for attachment in task.attachments.select_related("blob")
        ]
        if manages:
            data["groups"] = list(task.groups.values_list("pk", flat=True))
            data["students"] = list(task.students.values_list("pk", flat=True))
    return data


def _files_prefetch(task: Task) -> Prefetch:
    return Prefetch(
        "files", queryset=SubmissionFile.objects.for_school(task.school_id).select_related("blob")
    )


def _save(request: HttpRequest, task: Task, data: dict[str, Any]) -> Task:
    form = TaskForm(data, instance=task, teacher=request.user)
    if not form.is_valid():
        raise ApiError(400, form.errors.get_json_data())
    try:
        return services.save_task(
            request.user,
            form.save(commit=False),
            form.cleaned_data["groups"],
            form.cleaned_data["students"],
            data.get("attachments") or (),
        )
    except Refusal:
        raise
    except PermissionDenied as refused:
        raise ApiError(403, str(refused) or _("You may not do that.")) from refused


@api("GET", "POST")
def task_collection(request: HttpRequest) -> JsonResponse:
    user = request.user
    if request.method == "POST":
        if not access.taught_groups(user).exists():
            raise ApiError(403, _("Only teachers can create tasks."))
        task = _save(request, Task(), _body(request))
        return JsonResponse(_task_json(task, True, detail=True), status=201)
    if user.is_teacher:
        tasks = services.managed_tasks(user).annotate(
            handed_in=Count("submissions", filter=Q(submissions__status__in=services.HANDED_IN))
        )
        items = [{**_task_json(task, True), "handed_in": task.handed_in} for task in tasks]
    else:
        items = [_task_json(task, False) for task in services.student_task_list(user)]
    return JsonResponse({"tasks": items})


@api("GET", "PATCH", "DELETE")
def task_resource(request: HttpRequest, pk: int) -> JsonResponse:
    task, manages = _task(request, pk)
    if request.method == "GET":
        data = _task_json(task, manages, detail=True)
        if not manages:
            mine = (
                Submission.objects.for_school(task.school_id)
                .filter(task=task, student=request.user)
                .prefetch_related(_files_prefetch(task))
                .first()
            )
            data["state"] = services.state_of(task, mine)
            data["submission"] = _submission_json(task, mine)
        return JsonResponse(data)
    if not manages:
        raise PermissionDenied
    if request.method == "DELETE":
        services.delete_task(request.user, task)
        return HttpResponse(status=204)
    current = {
        "title": task.title,
        "description": task.description,
        "groups": list(task.groups.values_list("pk", flat=True)),
        "students": list(task.students.values_list("pk", flat=True)),
        "starts_at": task.starts_at.isoformat(),
        "due_at": task.due_at.isoformat(),
        "accept_late": task.accept_late,
        "expects": task.expects,
        "max_file_mb": task.max_file_mb,
    }
    task = _save(request, task, {**current, **_body(request)})
    return JsonResponse(_task_json(task, True, detail=True))


@api("GET")
def submission_collection(request: HttpRequest, pk: int) -> JsonResponse:
    task, _manages = _task(request, pk, manage=True)
    submissions = {
        submission.student_id: submission
        for submission in Submission.objects.for_school(task.school_id)
        .filter(task=task, status__in=services.HANDED_IN)
        .prefetch_related(_files_prefetch(task))
    }
    return JsonResponse(
        {
            "students": [
                {
                    "id": student.pk,
                    "name": student.get_full_name(),
                    "submission": _submission_json(task, submissions.get(student.pk)),
                }
                for student in services.assignees(task)
            ]
        }
    )


@api("POST")
def submission_review(request: HttpRequest, pk: int, submission_id: int) -> JsonResponse:
    task, _manages = _task(request, pk, manage=True)
    submission = (
        Submission.objects.for_school(task.school_id).filter(task=task, pk=submission_id).first()
    )
    if submission is None:
        raise PermissionDenied
    submission.task = task
    data = _body(request)
    form = ReviewForm(data, instance=submission)
    if not form.is_valid():
        raise ApiError(400, form.errors.get_json_data())
    services.review(
        request.user,
        submission,
        form.cleaned_data["feedback"],
        form.cleaned_data["points"],
        form.cleaned_data["grade"],
        bool(data.get("return_for_revision")),
    )
    submission = (
        Submission.objects.for_school(task.school_id)
        .filter(pk=submission.pk)
        .prefetch_related(_files_prefetch(task))
        .get()
    )
    return JsonResponse(_submission_json(task, submission))


@api("GET", "PUT")
def my_submission(request: HttpRequest, pk: int) -> JsonResponse:
    task, _manages = _task(request, pk, manage=False)
    if request.method == "PUT":
        form = TextForm(_body(request))
        if not form.is_valid():
            raise ApiError(400, form.errors.get_json_data())
        services.save_text(request.user, task, form.cleaned_data["text"])
    mine = _mine(request, task)
    services.mark_feedback_seen(mine)
    return JsonResponse(
        {"state": services.state_of(task, mine), "submission": _submission_json(task, mine)}
    )


def _mine(request: HttpRequest, task: Task) -> Submission | None:
    return (
        Submission.objects.for_school(task.school_id)
        .filter(task=task, student=request.user)
        .prefetch_related(_files_prefetch(task))
        .first()
    )


@api("POST")
def my_submission_hand_in(request: HttpRequest, pk: int) -> JsonResponse:
    task, _manages = _task(request, pk, manage=False)
    services.hand_in(request.user, task)
    return JsonResponse(_submission_json(task, _mine(request, task)))


@api("POST")
def my_submission_take_back(request: HttpRequest, pk: int) -> JsonResponse:
    task, _manages = _task(request, pk, manage=False)
    services.take_back(request.user, task)
    return JsonResponse(_submission_json(task, _mine(request, task)))


@api("DELETE")
def my_submission_file(request: HttpRequest, pk: int, file_id: int) -> JsonResponse:
    task, _manages = _task(request, pk, manage=False)
    submitted = (
        SubmissionFile.objects.for_school(task.school_id)
        .select_related("submission")
        .filter(pk=file_id, submission__task=task, submission__student=request.user)
        .first()
    )
    if submitted is None:
        raise PermissionDenied
    submitted.submission.task = task
    services.remove_file(request.user, submitted)
    return HttpResponse(status=204)


urlpatterns = [
    path("", task_collection, name="tasks"),
    path("<id:pk>", task_resource, name="task"),
    path("<id:pk>/submissions", submission_collection, name="submissions"),
    path("<id:pk>/submissions/<id:submission_id>/review", submission_review, name="review"),
    path("<id:pk>/submission", my_submission, name="my-submission"),
    path("<id:pk>/submission/hand-in", my_submission_hand_in, name="hand-in"),
    path("<id:pk>/submission/take-back", my_submission_take_back, name="take-back"),
    path("<id:pk>/submission/files/<id:file_id>", my_submission_file, name="my-submission-file"),
]
