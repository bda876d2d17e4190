"""A script hands in files over tus with a personal API token: create, PATCH, resume with
HEAD, under the same purpose checks and limits as a signed-in browser."""

from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import urlsplit

import pytest
from django.test import Client

from kreide.api import services as tokens
from kreide.tasks.models import SubmissionFile

from .conftest import TUS

pytestmark = pytest.mark.django_db

DATA = bytes(range(256)) * 40


def _script(secret: str) -> Client:
    """An HTTP client with no session and CSRF checks on, as a script is."""
    return Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {secret}", **TUS)


def _metadata(task, filename: str = "Lösung.pdf") -> str:
    values = {"purpose": "task-submission", "task": str(task.pk), "filename": filename}
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _create(client: Client, task, length: int = len(DATA)):
    return client.post(
        "/uploads/", HTTP_UPLOAD_LENGTH=str(length), HTTP_UPLOAD_METADATA=_metadata(task)
    )


def _patch(client: Client, url: str, offset: int, data: bytes):
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
    )


def test_a_script_uploads_a_submission_with_its_token_and_resumes(world, task):
    script = _script(tokens.create_token(world.student_7a, "Abgabe-Skript", "write"))
    created = _create(script, task)
    assert created.status_code == 201, created.content
    url = urlsplit(created["Location"]).path

    assert _patch(script, url, 0, DATA[:4000]).status_code == 204
    # The connection broke: HEAD tells where to go on.
    resumed = script.head(url)
    assert resumed.status_code == 200 and resumed["Upload-Offset"] == "4000"
    assert _patch(script, url, 0, DATA).status_code == 409  # not from the start again
    done = _patch(script, url, 4000, DATA[4000:])
    assert done.status_code == 204, done.content

    result = json.loads(done["Kreide-Upload-Result"])
    assert result["sha256"] == hashlib.sha256(DATA).hexdigest()
    stored = SubmissionFile.objects.for_school(world.school).get(pk=result["id"])
    assert stored.submission.student == world.student_7a
    assert stored.submission.task == task
    assert script.get(f"{url}/result").json()["id"] == result["id"]


def test_a_token_passes_the_same_checks_as_the_browser(world, task, settings):
    # Read-only tokens read: they may ask where an upload stands, not send one.
    reader = _script(tokens.create_token(world.student_7a, "Nur lesen", "read"))
    assert _create(reader, task).status_code == 403
    writer = _script(tokens.create_token(world.student_7a, "Skript", "write"))
    url = urlsplit(_create(writer, task)["Location"]).path
    assert reader.head(url)["Upload-Offset"] == "0"
    assert _patch(reader, url, 0, DATA).status_code == 403
    # Another account's token sees no upload of this one; a wrong token gets nowhere.
    classmate = _script(tokens.create_token(world.classmate_7a, "Skript", "write"))
    assert classmate.head(url).status_code == 404
    assert _patch(classmate, url, 0, DATA).status_code == 404
    assert _script("kreide_guessed").head(url).status_code == 401
    # The purpose decides as for the browser: a student of another class may not hand in.
    other = _script(tokens.create_token(world.student_7b, "Skript", "write"))
    refused = _create(other, task)
    assert refused.status_code == 403 and refused.content
    # The account's limit on unfinished uploads counts the token's uploads too.
    settings.UPLOAD_UNFINISHED_MAX = 1
    assert _create(writer, task).status_code == 429
    # A revoked token (or a deactivated account) stops at once.
    world.student_7a.is_active = False
    world.student_7a.save()
    assert writer.head(url).status_code == 401


def test_a_browser_session_still_needs_its_csrf_token(world, task):
    browser = Client(enforce_csrf_checks=True, **TUS)
    browser.force_login(world.student_7a)
    refused = _create(browser, task)
    assert refused.status_code == 403 and "CSRF" in refused.content.decode()
    browser.get("/")  # the page sets the CSRF cookie the uploader sends back
    token = browser.cookies["csrftoken"].value
    assert (
        browser.post(
            "/uploads/",
            HTTP_UPLOAD_LENGTH="10",
            HTTP_UPLOAD_METADATA=_metadata(task),
            HTTP_X_CSRFTOKEN=token,
        ).status_code
        == 201
    )


@pytest.mark.django_db(transaction=True)
def test_tuspy_hands_in_with_a_token_over_http(world, make_task, live_server, tmp_path):
    """The documented script: a standard tus client against the running server."""
    from tusclient import client as tus_client

    task = make_task()
    secret = tokens.create_token(world.student_7a, "Abgabe-Skript", "write")
    source = tmp_path / "Lösung.pdf"
    source.write_bytes(DATA)
    client = tus_client.TusClient(
        live_server.url + "/uploads/", headers={"Authorization": f"Bearer {secret}"}
    )
    first = client.uploader(
        file_path=str(source),
        chunk_size=3000,
        metadata={"purpose": "task-submission", "task": str(task.pk)},
    )
    first.upload_chunk()
    # A new run of the script resumes the same upload: HEAD gives the offset.
    resumed = client.uploader(file_path=str(source), chunk_size=3000, url=first.url)
    assert resumed.offset == 3000
    resumed.upload()
    stored = SubmissionFile.objects.for_school(world.school).get()
    assert stored.submission.student == world.student_7a
    assert stored.blob.sha256 == hashlib.sha256(DATA).hexdigest()
