"""The JSON API: same rules as the pages; the OpenAPI document describes it."""

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kreide.tasks.models import Submission, Task

from .conftest import tus_upload

pytestmark = pytest.mark.django_db


def _json(client, method: str, url: str, body=None):
    return client.generic(
        method, url, json.dumps(body) if body is not None else "", content_type="application/json"
    )


def test_teacher_creates_edits_and_reviews_student_submits(world, client_for):
    teacher, student = client_for(world.teacher_7a), client_for(world.student_7a)
    now = timezone.now()
    created = _json(
        teacher,
        "POST",
        reverse("api:tasks"),
        {
            "title": "Vokabeln Unit 4",
            "description": "*Lernen*",
            "groups": [world.class_7a.pk],
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "due_at": (now + timedelta(days=2)).isoformat(),
            "expects": "both",
            "max_file_mb": 5,
        },
    )
    assert created.status_code == 201, created.content
    task_id = created.json()["id"]
    assert created.json()["description_html"] == "<p><em>Lernen</em></p>"
    edited = _json(teacher, "PATCH", reverse("api:task", args=[task_id]), {"title": "Unit 4"})
    assert edited.status_code == 200 and edited.json()["title"] == "Unit 4"
    assert edited.json()["groups"] == [world.class_7a.pk]

    listed = student.get(reverse("api:tasks")).json()["tasks"]
    assert [(t["id"], t["state"]) for t in listed] == [(task_id, "open")]
    saved = _json(
        student,
        "PUT",
        reverse("api:my-submission", args=[task_id]),
        {"text": "to achieve – erreichen"},
    )
    assert saved.status_code == 200 and saved.json()["state"] == "draft"
    tus_upload(
        student, b"Vokabeln", purpose="task-submission", task=str(task_id), filename="Vokabeln.txt"
    )
    # A draft is the student's: the teacher's overview shows nobody has handed in.
    overview = teacher.get(reverse("api:submissions", args=[task_id])).json()["students"]
    assert all(row["submission"] is None for row in overview)
    handed_in = student.post(reverse("api:hand-in", args=[task_id]))
    assert handed_in.status_code == 200 and handed_in.json()["status"] == "submitted"
    assert len(handed_in.json()["receipt"]) == 64
    assert re.fullmatch(r"[A-Z2-7]{4}-[A-Z2-7]{4}", handed_in.json()["receipt_code"])
    mine = student.get(reverse("api:task", args=[task_id])).json()["submission"]
    assert mine["text"] == "to achieve – erreichen"
    assert [f["filename"] for f in mine["files"]] == ["Vokabeln.txt"]
    assert mine["feedback"] is None

    overview = teacher.get(reverse("api:submissions", args=[task_id])).json()["students"]
    by_id = {row["id"]: row["submission"] for row in overview}
    assert by_id[world.classmate_7a.pk] is None
    submission_id = by_id[world.student_7a.pk]["id"]
    reviewed = _json(
        teacher,
        "POST",
        reverse("api:review", args=[task_id, submission_id]),
        {"feedback": "Prima", "points": 10, "grade": "1"},
    )
    assert reviewed.status_code == 200 and reviewed.json()["status"] == "reviewed"
    seen = student.get(reverse("api:my-submission", args=[task_id])).json()
    assert seen["state"] == "reviewed" and seen["submission"]["points"] == "10.00"
    refused = _json(student, "PUT", reverse("api:my-submission", args=[task_id]), {"text": "x"})
    assert refused.status_code == 403 and "bewertet" in refused.json()["detail"]

    assert teacher.delete(reverse("api:task", args=[task_id])).status_code == 204
    assert not Task.objects.for_school(world.school).exists()
    assert not Submission.objects.for_school(world.school).exists()


def test_api_validation_and_authentication(world, client_for, client):
    teacher = client_for(world.teacher_7a)
    bad = _json(teacher, "POST", reverse("api:tasks"), {"title": "", "groups": []})
    assert bad.status_code == 400 and "title" in bad.json()["detail"]
    foreign = _json(
        teacher,
        "POST",
        reverse("api:tasks"),
        {
            "title": "x",
            "groups": [world.class_7b.pk],
            "starts_at": timezone.now().isoformat(),
            "due_at": (timezone.now() + timedelta(days=1)).isoformat(),
            "expects": "files",
            "max_file_mb": 5,
        },
    )
    assert foreign.status_code == 400
    broken = teacher.generic("POST", reverse("api:tasks"), "{nope", content_type="application/json")
    assert broken.status_code == 400 and "JSON" in broken.json()["detail"]
    for hostile in ("[" * 100_000 + "]" * 100_000, '{"title": NaN}'):  # RecursionError before
        refused = teacher.generic(
            "POST", reverse("api:tasks"), hostile, content_type="application/json"
        )
        assert refused.status_code == 400 and "JSON" in refused.json()["detail"]
    huge = _json(teacher, "POST", reverse("api:tasks"), {"title": "x", "groups": [2**64]})
    assert huge.status_code == 400 and "groups" in huge.json()["detail"]
    assert _json(client_for(world.student_7a), "POST", reverse("api:tasks"), {}).status_code == 403
    assert client.get(reverse("api:tasks")).status_code == 401


def test_openapi_document_lists_every_route(client):
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for route in [
        "/api/v1/tasks/",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/submission",
        "/api/v1/tasks/{task_id}/submission/hand-in",
        "/api/v1/tasks/{task_id}/submission/take-back",
        "/api/v1/tasks/{task_id}/submissions",
        "/api/v1/tasks/{task_id}/submissions/{submission_id}/review",
        "/uploads/",
        "/uploads/{upload_id}",
    ]:
        assert route in document["paths"], route
