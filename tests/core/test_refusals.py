"""One error family: every module's refusal is a `Refusal` with a message in the user's
language and an HTTP status, answered in one place (JSON or the error page, never a 500)."""

import json

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import translation

from kreide.core.errors import Refusal, RefusalMiddleware, refusal_response
from kreide.files.services import FileError, NameClash, QuotaExceeded
from kreide.messenger.services import MessengerError, NotFound
from kreide.storage.blobstore import StorageFull
from kreide.storage.uploads import UploadRefused
from kreide.tasks.services import SubmissionRefused
from kreide.video.services import LessonEnded, ServerLost, VideoRefusal, VideoUnavailable


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (FileError("x"), 400),
        (NameClash("x"), 409),
        (QuotaExceeded("x"), 413),
        (MessengerError("rate_limited", "x"), 429),
        (MessengerError("muted", "x"), 403),
        (NotFound(), 404),
        (SubmissionRefused("x"), 403),
        (UploadRefused("x", status=413), 413),
        (VideoRefusal("x"), 400),
        (LessonEnded(), 410),
        (ServerLost(), 503),
        (VideoUnavailable(), 503),
        (StorageFull(), 507),
    ],
)
def test_every_modules_refusal_is_one_family_with_its_status(refusal, status):
    assert isinstance(refusal, Refusal) and refusal.status == status and str(refusal.message)


def test_json_carries_code_message_and_retry_after_in_the_users_language():
    request = RequestFactory().get("/api/v1/tasks/")
    with translation.override("de"):
        response = refusal_response(request, VideoUnavailable())
    assert response.status_code == 503 and response["Retry-After"] == "60"
    body = json.loads(response.content)
    assert body["error"] == "video_unavailable"
    assert body["message"] == body["detail"] == "Video ist gerade nicht verfügbar."


@pytest.mark.django_db
def test_a_refusal_no_view_handled_is_a_page_in_german_not_a_500(world):
    request = RequestFactory().get("/files/")
    request.user = world.student_7a
    middleware = RefusalMiddleware(lambda r: None)
    with translation.override("de"):
        response = middleware.process_exception(request, NameClash("„a.txt“ gibt es schon."))
    assert response.status_code == 409
    page = response.content.decode()
    assert "Das geht nicht" in page and "„a.txt“ gibt es schon." in page
    assert middleware.process_exception(HttpRequest(), ValueError("other")) is None
