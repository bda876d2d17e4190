"""One error family: every module's refusal is a `Refusal` with a message in the user's
language and an HTTP status, answered in one place (JSON or the error page, never a 500)."""

import ast
import importlib
import json
from pathlib import Path

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import translation

import kreide
from kreide.accounts.importing import ImportFileError, RowError
from kreide.core.errors import Refusal, RefusalMiddleware, refusal_response
from kreide.files.services import FileError, NameClash, QuotaExceeded
from kreide.mail.webmail import SendRefused
from kreide.messenger.services import MessengerError, NotFound
from kreide.storage.blobstore import StorageFull
from kreide.storage.uploads import UploadRefused
from kreide.tasks.services import SubmissionRefused
from kreide.timetable.importing import Problem, TimetableImportError
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
        (TimetableImportError([Problem("GPU001.TXT", 3, "x")]), 400),
        (SendRefused("x"), 400),
        (ImportFileError([RowError(2, "", "x")]), 400),
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


def test_import_and_send_refusals_read_as_before():
    problems = [Problem("GPU001.TXT", line, "Unbekannte Klasse") for line in range(1, 8)]
    refused = TimetableImportError(problems)
    assert refused.problems == problems and str(refused) == str(refused.message)
    assert str(refused).count(";") == 4  # the first five, as before
    with translation.override("de"):
        refused = ImportFileError([RowError(2, "email", "ungültig"), RowError(3, "", "leer")])
    assert refused.errors[1].line == 3 and refused.code == "import_file_refused"
    assert str(refused) == "Zeile 2, Spalte „email“: ungültig; Zeile 3: leer"
    assert str(SendRefused("550 unknown user")) == "550 unknown user"


# Exceptions that stay outside the family, each with why: none is a refusal that a person
# reads on a page in their language.
OUTSIDE = {
    "kreide.api.auth.ApiError": "the API's own answer for scripts: a structured `detail` "
    "(a form's field errors as a dict), turned into JSON by kreide/api/auth.py",
    "kreide.core.jsonbody.JSONBodyError": "malformed JSON from a script; each caller answers "
    "it with its own 400",
    "kreide.core.scoping.SchoolScopeError": "a programming error (an unscoped query): a 500",
    "kreide.env.ConfigurationError": "a bad setting stops the start; no user sees it",
    "kreide.mail.transfer.MailTransferError": "the operator's export/import of mailboxes",
    "kreide.mail.webmail.MailUnavailable": "the mail servers do not answer: callers show the "
    "mail page's own notice or retry later (retention, exports)",
    "kreide.messenger.consumers.Malformed": "a broken WebSocket frame, dropped by the consumer",
    "kreide.privacy.access.ExportFailed": "the export worker's failure, kept on the request "
    "and retried",
    "kreide.storage.tus.TusError": "the tus protocol's status with its headers",
    "kreide.timetable.calendars.TestLimitExceeded": "a warning the teacher may override: a "
    "form's ValidationError, shown in the form",
    "kreide.transfer.archive.ArchiveError": "the operator's command line (kreide verify)",
    "kreide.transfer.importer.ImportRefused": "the operator's command line (kreide import)",
    "kreide.transfer.registry.RegistryError": "a module registered a broken export: at start",
    "kreide.transfer.serialize.ExportError": "the operator's command line (kreide export)",
    "kreide.video.janus.JanusError": "the media server's failure, which video turns into "
    "VideoUnavailable or ServerLost",
}


def _kreide_exceptions() -> dict[str, type]:
    """Every exception class defined in kreide, by its dotted name."""
    root = Path(kreide.__file__).parent
    found = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        if not names:
            continue
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        loaded = importlib.import_module(module)
        for name in names:
            cls = getattr(loaded, name, None)
            if (
                isinstance(cls, type)
                and issubclass(cls, BaseException)
                and cls.__module__ == module
            ):
                found[f"{module}.{name}"] = cls
    return found


def _outside_without_reason(classes: dict[str, type]) -> list[str]:
    return sorted(
        name
        for name, cls in classes.items()
        if not issubclass(cls, Refusal) and name not in OUTSIDE
    )


def test_every_exception_is_a_refusal_or_stays_outside_with_its_reason():
    classes = _kreide_exceptions()
    assert {"kreide.files.services.NameClash", "kreide.video.janus.JanusError"} <= set(classes)
    assert _outside_without_reason(classes) == [], (
        "derive it from Refusal, or say in OUTSIDE why not"
    )
    # A reason for an exception that joined the family, or is gone, is stale.
    assert {
        name for name in OUTSIDE if name not in classes or issubclass(classes[name], Refusal)
    } == set()


def test_the_family_check_catches_a_new_exception_outside_it():
    class SendFailed(Exception):
        pass

    assert _outside_without_reason({"kreide.mail.webmail.SendFailed": SendFailed}) == [
        "kreide.mail.webmail.SendFailed"
    ]
    assert _outside_without_reason({"kreide.mail.webmail.SendRefused": SendRefused}) == []
