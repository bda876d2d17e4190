"""The permission matrix: outsiders are refused on every task page, file and API endpoint."""

import json

import pytest
from django.urls import reverse

from kreide.api.models import ApiToken
from kreide.api.services import create_token
from kreide.storage.blobstore import store_bytes
from kreide.tasks import services
from kreide.tasks.models import Task

from .conftest import TUS, tus_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(world, task, client_for):
    """A task for 7a with a worksheet and the 7a student's submission (file and text)."""
    teacher = world.teacher_7a
    attachment = services.add_attachment(teacher, task, store_bytes(b"%PDF blatt"), "Blatt.pdf")
    Task.objects.for_school(world.school).filter(pk=task.pk).update(expects="both")
    task.refresh_from_db()
    result = json.loads(
        tus_upload(
            client_for(world.student_7a),
            b"Loesung",
            purpose="task-submission",
            task=str(task.pk),
            filename="Loesung.txt",
        )["Kreide-Upload-Result"]
    )
    services.save_text(world.student_7a, task, "Rechenweg")
    submission = services.hand_in(world.student_7a, task)
    return task, attachment, submission, result["id"]


def _urls(task, attachment, submission, file_id):
    pk = task.pk
    get = [
        reverse("tasks:detail", args=[pk]),
        reverse("tasks:edit", args=[pk]),
        reverse("tasks:delete", args=[pk]),
        reverse("tasks:attachments", args=[pk]),
        reverse("tasks:attachment", args=[pk, attachment.pk]),
        reverse("tasks:my-submission", args=[pk]),
        reverse("tasks:submission-file", args=[pk, file_id]),
        reverse("tasks:submission", args=[pk, submission.pk]),
        reverse("tasks:zip", args=[pk]),
        reverse("api:task", args=[pk]),
        reverse("api:submissions", args=[pk]),
        reverse("api:my-submission", args=[pk]),
    ]
    post = [
        reverse("tasks:edit", args=[pk]),
        reverse("tasks:delete", args=[pk]),
        reverse("tasks:attachment-delete", args=[pk, attachment.pk]),
        reverse("tasks:submit-text", args=[pk]),
        reverse("tasks:hand-in", args=[pk]),
        reverse("tasks:take-back", args=[pk]),
        reverse("tasks:remind", args=[pk]),
        reverse("tasks:copy", args=[pk]),
        reverse("tasks:file-delete", args=[pk, file_id]),
        reverse("tasks:submission", args=[pk, submission.pk]),
        reverse("api:review", args=[pk, submission.pk]),
    ]
    return get, post


@pytest.mark.parametrize(
    "who",
    [
        "student_7b",
        "other_student",
        "teacher_7b",
        "other_teacher",
        "other_admin",
        "deactivated",
        "member_of_deactivated_class",
        "teacher_of_deactivated_class",
        # Parents read their child's tasks on the parent pages only, never the task pages.
        "parent_7a",
        "parent_7b",
    ],
)
def test_outsiders_are_refused_everywhere(
    world, parents, scene, client_for, make_user, deactivate, who
):
    task, attachment, submission, file_id = scene
    if who.endswith("_deactivated_class"):
        # A deactivated class grants nothing: not to its students, not to its teachers.
        colleague = make_user(world.school, "teacher", groups=(world.class_7a,))
        deactivate(world.class_7a)
        client = client_for(world.classmate_7a if who.startswith("member") else colleague)
    elif who == "deactivated":
        user = world.classmate_7a
        client = client_for(user)
        user.is_active = False
        user.save()
    else:
        client = client_for(getattr(world, who))
    get, post = _urls(*scene)
    for url in get:
        response = client.get(url)
        assert response.status_code in (302, 401, 403, 404), (who, url, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"Loesung" not in body and b"%PDF blatt" not in body
    for url in post:
        response = client.post(url, {"text": "x", "feedback": "x"})
        assert response.status_code in (302, 401, 403, 404, 405), (who, url)
    api_patch = client.generic(
        "PATCH",
        reverse("api:task", args=[task.pk]),
        json.dumps({"title": "Hacked"}),
        content_type="application/json",
    )
    assert api_patch.status_code in (401, 403, 404)
    assert client.delete(reverse("api:task", args=[task.pk])).status_code in (401, 403, 404)
    listed = client.get(reverse("api:tasks"))
    assert listed.status_code == 401 or task.title not in listed.content.decode()
    upload = tus_upload(
        client, b"x", purpose="task-submission", task=str(task.pk), filename="a.txt"
    )
    assert upload.status_code in (400, 401, 403)  # 401: signed out as the API says it
    assert client.head(
        reverse("storage:upload", args=["00000000-0000-0000-0000-000000000000"]), **TUS
    ).status_code in (401, 404)
    # Nothing changed.
    task.refresh_from_db()
    submission.refresh_from_db()
    assert task.title == "Arbeitsblatt Bruchrechnung" and submission.feedback == ""
    assert task.attachments.count() == 1 and submission.files.count() == 1


@pytest.mark.parametrize("who", ["parent_7a", "parent_7b"])
def test_a_parents_api_token_reaches_no_task(world, parents, scene, client, who):
    """Parents may hold API tokens (every account may); with one, the task API is as
    closed to them as the pages, also for their own child's task."""
    task, attachment, submission, file_id = scene
    secret = create_token(getattr(world, who), "Skript", ApiToken.Scope.WRITE)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    me = client.get(reverse("api_me"), **bearer)
    assert me.status_code == 200 and me.json()["role"] == "parent"
    listed = client.get(reverse("api:tasks"), **bearer)
    assert listed.status_code == 200 and listed.json() == {"tasks": []}
    for name, args in [
        ("api:task", [task.pk]),
        ("api:submissions", [task.pk]),
        ("api:my-submission", [task.pk]),
    ]:
        response = client.get(reverse(name, args=args), **bearer)
        assert response.status_code in (403, 404), (name, response.status_code)
        assert b"Rechenweg" not in response.content and b"Bruchrechnung" not in response.content
    writes = [
        ("POST", reverse("api:tasks"), {"title": "Neu", "groups": [world.class_7a.pk]}),
        ("PATCH", reverse("api:task", args=[task.pk]), {"title": "Hacked"}),
        ("DELETE", reverse("api:task", args=[task.pk]), {}),
        ("POST", reverse("api:review", args=[task.pk, submission.pk]), {"feedback": "x"}),
        ("PUT", reverse("api:my-submission", args=[task.pk]), {"text": "x"}),
        ("POST", reverse("api:hand-in", args=[task.pk]), {}),
        ("POST", reverse("api:take-back", args=[task.pk]), {}),
        ("DELETE", reverse("api:my-submission-file", args=[task.pk, file_id]), {}),
    ]
    for method, url, body in writes:
        response = client.generic(method, url, json.dumps(body), "application/json", **bearer)
        assert response.status_code in (403, 404), (method, url, response.status_code)
    task.refresh_from_db()
    submission.refresh_from_db()
    assert task.title == "Arbeitsblatt Bruchrechnung" and submission.feedback == ""
    assert submission.status == submission.Status.SUBMITTED and submission.files.count() == 1
    assert Task.objects.for_school(world.school).count() == 1


def test_classmate_sees_the_task_but_not_the_submission(world, scene, client_for):
    task, attachment, submission, file_id = scene
    client = client_for(world.classmate_7a)
    assert client.get(reverse("tasks:detail", args=[task.pk])).status_code == 200
    assert client.get(reverse("tasks:attachment", args=[task.pk, attachment.pk])).status_code == 200
    assert client.get(reverse("tasks:submission-file", args=[task.pk, file_id])).status_code == 404
    assert client.get(reverse("tasks:submission", args=[task.pk, submission.pk])).status_code == 404
    assert client.get(reverse("tasks:zip", args=[task.pk])).status_code == 404
    assert client.post(reverse("tasks:file-delete", args=[task.pk, file_id])).status_code == 404
    assert submission.files.count() == 1


def test_the_right_people_get_in(world, scene, client_for):
    task, attachment, submission, file_id = scene
    teacher = client_for(world.teacher_7a)
    for url in _urls(*scene)[0]:
        if url.rstrip("/").endswith("/submission"):
            continue  # the student's own submission: not a teacher's page
        assert teacher.get(url).status_code == 200, url
    student = client_for(world.student_7a)
    for name, args in [
        ("tasks:detail", [task.pk]),
        ("tasks:submission-file", [task.pk, file_id]),
        ("tasks:attachment", [task.pk, attachment.pk]),
        ("api:my-submission", [task.pk]),
        ("api:task", [task.pk]),
    ]:
        assert student.get(reverse(name, args=args)).status_code == 200, name
    assert student.get(reverse("tasks:zip", args=[task.pk])).status_code == 404
    assert student.get(reverse("tasks:edit", args=[task.pk])).status_code == 404
