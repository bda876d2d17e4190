"""Students hand in files and text; teachers review; the due date and limits hold."""

import hashlib
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from kreide.storage.models import Upload
from kreide.tasks import services
from kreide.tasks.models import Submission, SubmissionFile, Task

from .conftest import TUS, tus_upload

pytestmark = pytest.mark.django_db


def _submit(client, task, data=b"Meine Loesung", filename="Lösung.pdf"):
    return tus_upload(
        client,
        data,
        purpose="task-submission",
        task=str(task.pk),
        filename=filename,
        filetype="application/pdf",
    )


def _hand_in(client, task):
    return client.post(reverse("tasks:hand-in", args=[task.pk]), follow=True).content.decode()


def test_student_submits_a_file_and_sees_the_receipt(world, client_for, task):
    client = client_for(world.student_7a)
    response = _submit(client, task, b"%PDF-1.4 Bruchrechnung")
    assert response.status_code == 204
    result = json.loads(response["Kreide-Upload-Result"])
    assert result["sha256"] == hashlib.sha256(b"%PDF-1.4 Bruchrechnung").hexdigest()
    assert result["late"] is False
    # Uploaded is not handed in: the student sees what will be handed in, and the button.
    page = client.get(reverse("tasks:detail", args=[task.pk])).content.decode()
    assert "Das wird abgegeben" in page and "Lösung.pdf" in page and ">Abgeben</button>" in page
    assert "noch nicht abgegeben" in page and "Quittung" not in page
    teacher = client_for(world.teacher_7a)
    assert "0 von 2 abgegeben" in teacher.get(reverse("tasks:list")).content.decode()
    page = _hand_in(client, task)
    submission = Submission.objects.for_school(world.school).get(task=task)
    assert submission.status == Submission.Status.SUBMITTED and len(submission.receipt) == 64
    assert "Abgegeben. Deine Quittung steht unten." in page
    assert f'<strong class="receipt-code">{submission.receipt_code}</strong>' in page
    # The full hash and each file's SHA-256 stay available, folded away.
    assert submission.receipt in page and result["sha256"] in page
    assert ">Abgeben</button>" not in page and "Zurückholen und ändern" in page
    listed = teacher.get(reverse("tasks:list")).content.decode()
    assert "1 von 2 abgegeben" in listed and "1 zu bewerten" in listed
    download = client.get(result["url"])
    assert b"".join(download.streaming_content) == b"%PDF-1.4 Bruchrechnung"
    assert "Lösung.pdf".encode() not in download["Content-Disposition"].encode("latin-1")
    assert "filename*=UTF-8''L%C3%B6sung.pdf" in download["Content-Disposition"]


def test_over_the_tasks_limit_is_refused_before_the_upload_starts(world, client_for, make_task):
    task = make_task(max_file_mb=1)
    client = client_for(world.student_7a)
    response = client.post(
        "/uploads/",
        HTTP_UPLOAD_LENGTH=str(2 * 1024 * 1024),
        **TUS,
        HTTP_UPLOAD_METADATA=f"purpose dGFzay1zdWJtaXNzaW9u,task {_b64(str(task.pk))}",
    )
    assert response.status_code == 413
    assert "höchstens 1 MB" in response.content.decode()
    assert not Upload.objects.for_school(world.school).exists()


def _submit_in_one_request(client, task, data: bytes):
    """The browser's uploader: the file goes with the creation (creation-with-upload)."""
    return client.post(
        "/uploads/",
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=(
            f"purpose {_b64('task-submission')},task {_b64(str(task.pk))},"
            f"filename {_b64('Lösung.pdf')}"
        ),
        **TUS,
    )


def test_a_small_submission_is_one_request(
    world, client_for, task, make_task, django_assert_max_num_queries
):
    client = client_for(world.student_7a)
    client.get(reverse("tasks:list"))  # the session and user are read as on any request
    with django_assert_max_num_queries(9):
        created = _submit_in_one_request(client, task, b"%PDF-1.4 Bruch")
    assert created.status_code == 201, created.content
    result = json.loads(created["Kreide-Upload-Result"])
    submitted = SubmissionFile.objects.for_school(world.school).get()
    assert result["id"] == submitted.pk and submitted.submission.student == world.student_7a
    assert submitted.blob.sha256 == hashlib.sha256(b"%PDF-1.4 Bruch").hexdigest()
    # Refused as a two-request upload would be: another class's task, over the limit.
    other = make_task(teacher=world.teacher_7b, groups=[world.class_7b])
    refused = _submit_in_one_request(client, other, b"%PDF-1.4 fremd")
    assert refused.status_code == 403
    assert "können keine Dateien hochgeladen werden" in refused.content.decode()
    small = make_task(max_file_mb=1)
    too_large = _submit_in_one_request(client, small, b"x" * (1024 * 1024 + 1))
    assert too_large.status_code == 413 and "höchstens 1 MB" in too_large.content.decode()
    assert SubmissionFile.objects.for_school(world.school).count() == 1
    assert Upload.objects.for_school(world.school).count() == 1


def _b64(value: str) -> str:
    import base64

    return base64.b64encode(value.encode()).decode()


def test_blocked_file_types_are_refused(world, client_for, task):
    response = _submit(client_for(world.student_7a), task, filename="virus.exe")
    assert response.status_code == 415
    assert "Dateityp" in response.content.decode()


def test_no_submission_after_the_due_date_unless_late_accepted(world, client_for, make_task):
    past = timezone.now() - timedelta(hours=1)
    closed = make_task(starts_at=past - timedelta(days=1), due_at=past)
    refused = _submit(client_for(world.student_7a), closed)
    assert refused.status_code == 403
    assert "Abgabetermin" in refused.content.decode()
    late_ok = make_task(starts_at=past - timedelta(days=1), due_at=past, accept_late=True)
    student = client_for(world.student_7a)
    assert _submit(student, late_ok).status_code == 204
    _hand_in(student, late_ok)
    submission = Submission.objects.for_school(world.school).get(task=late_ok)
    assert submission.late


def test_an_upload_to_a_handed_in_submission_changes_nothing(world, client_for, task):
    client = client_for(world.student_7a)
    assert _submit_in_one_request(client, task, b"%PDF-1.4 erste").status_code == 201
    _hand_in(client, task)
    handed_in = Submission.objects.for_school(world.school).get(task=task)
    refused = _submit_in_one_request(client, task, b"%PDF-1.4 zweite")
    assert refused.status_code == 403 and "Du hast abgegeben" in refused.content.decode()
    # The draft's change was written before the check refused it, and undone with it.
    again = Submission.objects.for_school(world.school).get(task=task)
    assert (again.changed_at, again.status) == (handed_in.changed_at, Submission.Status.SUBMITTED)
    assert SubmissionFile.objects.for_school(world.school).count() == 1
    assert Upload.objects.for_school(world.school).count() == 1


def test_upload_started_before_the_due_date_counts_on_time(world, client_for, make_task):
    task = make_task(due_at=timezone.now() + timedelta(seconds=30))
    client = client_for(world.student_7a)
    header = f"purpose {_b64('task-submission')},task {_b64(str(task.pk))},filename {_b64('a.pdf')}"
    created = client.post("/uploads/", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA=header, **TUS)
    assert created.status_code == 201
    # The due date passes while the upload is still running.
    Task.objects.for_school(world.school).filter(pk=task.pk).update(
        due_at=timezone.now() - timedelta(seconds=1)
    )
    Upload.objects.for_school(world.school).update(created_at=timezone.now() - timedelta(minutes=5))
    finished = client.generic(
        "PATCH",
        created["Location"].split("testserver")[-1],
        b"12345",
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        **TUS,
    )
    assert finished.status_code == 204, finished.content
    _hand_in(client, task)  # right after the upload arrived: still on time
    submitted = SubmissionFile.objects.for_school(world.school).get()
    assert submitted.finished_after_due and not submitted.submission.late
    overview = client_for(world.teacher_7a).get(
        reverse("tasks:submission", args=[task.pk, submitted.submission_id])
    )
    assert "Upload vor dem Abgabetermin begonnen" in overview.content.decode()


def test_text_submission_replace_files_and_empty_means_not_handed_in(world, client_for, make_task):
    task = make_task(expects=Task.Expects.BOTH)
    client = client_for(world.student_7a)
    client.post(reverse("tasks:submit-text", args=[task.pk]), {"text": "Antwort: 7/8"})
    assert Submission.objects.for_school(world.school).get(task=task).text == "Antwort: 7/8"
    _submit(client, task)
    submitted = SubmissionFile.objects.for_school(world.school).get()
    client.post(reverse("tasks:file-delete", args=[task.pk, submitted.pk]))
    client.post(reverse("tasks:submit-text", args=[task.pk]), {"text": " "})
    assert not Submission.objects.for_school(world.school).filter(task=task).exists()


def test_review_return_for_revision_and_feedback_seen(world, client_for, task):
    student = client_for(world.student_7a)
    _submit(student, task)
    submission = Submission.objects.for_school(world.school).get(task=task)
    teacher = client_for(world.teacher_7a)
    url = reverse("tasks:submission", args=[task.pk, submission.pk])
    assert teacher.get(url).status_code == 404  # a draft is not the teacher's yet
    _hand_in(student, task)
    teacher.post(
        url,
        {
            "feedback": "Bitte Rechenweg ergänzen.",
            "points": "",
            "grade": "",
            "return_for_revision": "on",
        },
    )
    submission.refresh_from_db()
    assert submission.status == Submission.Status.RETURNED and submission.feedback_is_new
    page = student.get(reverse("tasks:detail", args=[task.pk])).content.decode()
    assert "Bitte Rechenweg ergänzen." in page and "Erneut abgeben" in page
    submission.refresh_from_db()
    assert not submission.feedback_is_new
    student.post(reverse("tasks:hand-in", args=[task.pk]))
    teacher.post(url, {"feedback": "Jetzt passt es.", "points": "9.5", "grade": "2+"})
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REVIEWED and str(submission.points) == "9.50"
    # Reviewed means final: no more uploads.
    assert _submit(student, task).status_code == 403


def test_selected_students_only(world, make_task, client_for):
    task = make_task(students=[world.classmate_7a])
    assert services.assignees(task) == [world.classmate_7a]
    assert (
        client_for(world.classmate_7a).get(reverse("tasks:detail", args=[task.pk])).status_code
        == 200
    )
    assert (
        client_for(world.student_7a).get(reverse("tasks:detail", args=[task.pk])).status_code == 404
    )


def test_start_date_hides_the_task(world, make_task, client_for):
    task = make_task(
        starts_at=timezone.now() + timedelta(days=1), due_at=timezone.now() + timedelta(days=3)
    )
    client = client_for(world.student_7a)
    assert client.get(reverse("tasks:detail", args=[task.pk])).status_code == 404
    assert task.title not in client.get(reverse("tasks:list")).content.decode()
    # Nor can anything be handed in before: the upload's check asks the database.
    refused = _submit_in_one_request(client, task, b"%PDF-1.4 zu frueh")
    assert refused.status_code == 403
    assert "können keine Dateien hochgeladen werden" in refused.content.decode()
    assert not SubmissionFile.objects.for_school(world.school).exists()


def test_an_upload_for_a_task_id_beyond_the_databases_integers_is_refused(world, client_for):
    refused = _submit_in_one_request(
        client_for(world.student_7a), SimpleNamespace(pk=10**30), b"%PDF-1.4 x"
    )
    assert refused.status_code == 403
    assert "können keine Dateien hochgeladen werden" in refused.content.decode()


def test_teacher_creates_task_with_worksheet_uploaded_first(world, client_for):
    teacher = client_for(world.teacher_7a)
    uploaded = tus_upload(
        teacher, b"%PDF worksheet", purpose="task-attachment", filename="Arbeitsblatt.pdf"
    )
    assert uploaded.status_code == 204
    upload_id = json.loads(uploaded["Kreide-Upload-Result"])["upload"]
    now = timezone.localtime()
    response = teacher.post(
        reverse("tasks:create"),
        {
            "title": "Gedichtanalyse Erlkönig",
            "description": "Lies das Gedicht.",
            "groups": [world.class_7a.pk],
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "due_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "expects": "files",
            "max_file_mb": "20",
            "attachments": [upload_id],
        },
    )
    assert response.status_code == 302, response.content.decode()
    task = Task.objects.for_school(world.school).get()
    assert [a.filename for a in task.attachments.all()] == ["Arbeitsblatt.pdf"]
    # Students do not create tasks, and nobody assigns to a class they do not teach.
    assert client_for(world.student_7a).get(reverse("tasks:create")).status_code == 404
    response = client_for(world.teacher_7b).post(
        reverse("tasks:create"),
        {
            "title": "x",
            "groups": [world.class_7a.pk],
            "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "due_at": (now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
            "expects": "files",
            "max_file_mb": "20",
        },
    )
    assert response.status_code == 200 and Task.objects.for_school(world.school).count() == 1


def test_delete_asks_with_the_number_of_submissions(world, client_for, task):
    _submit(client_for(world.student_7a), task)
    teacher = client_for(world.teacher_7a)
    page = teacher.get(reverse("tasks:delete", args=[task.pk])).content.decode()
    assert "1 Abgabe geht verloren" in page
    assert teacher.post(reverse("tasks:delete", args=[task.pk])).status_code == 302
    assert not Task.objects.for_school(world.school).exists()


def test_markdown_is_sanitised(world, make_task, client_for):
    task = make_task(description="**fett** <script>alert(1)</script> [x](javascript:alert(1))")
    assert "<strong>fett</strong>" in task.description_html
    assert "<script" not in task.description_html and "javascript:" not in task.description_html


def test_downloads_are_offloaded_to_nginx_in_production(world, client_for, task, settings):
    from kreide.storage.blobstore import store_bytes

    settings.DOWNLOAD_OFFLOAD = "nginx"
    blob = store_bytes(b"%PDF Arbeitsblatt")
    attachment = services.add_attachment(world.teacher_7a, task, blob, "Übung 1.pdf")
    response = client_for(world.student_7a).get(
        reverse("tasks:attachment", args=[task.pk, attachment.pk])
    )
    assert (
        response["X-Accel-Redirect"] == f"/_blobs/{blob.sha256[:2]}/{blob.sha256[2:4]}/"
        f"{blob.sha256}"
    )
    assert response.content == b""
    assert "filename*=UTF-8''%C3%9Cbung%201.pdf" in response["Content-Disposition"]


@pytest.mark.parametrize(
    ("view", "service"),
    [("submit-text", "save_text"), ("hand-in", "hand_in"), ("take-back", "take_back")],
)
def test_a_refusal_without_a_reason_still_reads_as_a_message(
    world, client_for, task, monkeypatch, view, service
):
    def refuse(*args, **kwargs):
        raise PermissionDenied

    monkeypatch.setattr(services, service, refuse)
    client = client_for(world.student_7a)
    page = client.post(reverse(f"tasks:{view}", args=[task.pk]), {"text": "x"}, follow=True)
    assert page.status_code == 200
    assert "Das ist nicht erlaubt." in page.content.decode()
