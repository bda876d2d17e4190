"""WebDAV through the Django test client: sign-in, permission matrix, names, locks."""

import base64
import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from kreide.files import services
from kreide.files.models import AppPassword
from kreide.files.services import app_password_hash
from kreide.storage.blobstore import store_bytes
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _auth(user, password: str = PASSWORD) -> dict:
    token = base64.b64encode(f"{user.username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {token}"}


def dav(
    client,
    method: str,
    path: str,
    user=None,
    password: str = PASSWORD,
    body: bytes = b"",
    **headers,
):
    extra = _auth(user, password) if user else {}
    return client.generic(
        method, f"/dav/{path}", body, content_type="application/xml", **extra, **headers
    )


def test_no_credentials_no_session(files, client, client_for):
    assert dav(client, "PROPFIND", "", HTTP_DEPTH="1").status_code == 401
    # A signed-in browser session is not a WebDAV credential (no writes by cookie).
    session = client_for(files.student_7a)
    response = session.generic("PUT", f"/dav/{files.student_7a.username}/x.txt", b"x")
    assert response.status_code == 401
    assert dav(client, "PROPFIND", "", files.student_7a, "wrong").status_code == 401


def test_root_lists_own_folder_and_classes_only(files, client):
    response = dav(client, "PROPFIND", "", files.student_7a, HTTP_DEPTH="1")
    body = response.content.decode()
    assert response.status_code == 207
    assert f"/dav/{files.student_7a.username}/" in body
    assert "/dav/7a/" in body
    assert "/dav/7b/" not in body
    assert files.classmate_7a.username not in body


@pytest.mark.parametrize(
    ("who", "path", "method", "status"),
    [
        ("student_7a", "{me}/Tagebuch.txt", "GET", 200),
        ("classmate_7a", "{owner}/Tagebuch.txt", "GET", 404),
        ("other_student", "{owner}/Tagebuch.txt", "GET", 404),
        ("student_7a", "7a/Arbeitsblatt.pdf", "GET", 200),
        ("student_7b", "7a/Arbeitsblatt.pdf", "GET", 404),
        ("other_student", "7a/Arbeitsblatt.pdf", "GET", 404),
        ("student_7a", "7a/neu.txt", "PUT", 403),
        ("student_7a", "7a/Arbeitsblatt.pdf", "DELETE", 403),
        ("teacher_7a", "7a/neu.txt", "PUT", 201),
        ("teacher_7a", "7a/Arbeitsblatt.pdf", "DELETE", 204),
        ("student_7a", "{me}/neu.txt", "PUT", 201),
        # A parent's own WebDAV reaches nothing of their child's.
        ("parent_7a", "{owner}/Tagebuch.txt", "GET", 404),
        ("parent_7a", "7a/Arbeitsblatt.pdf", "GET", 404),
        ("parent_7a", "7a/neu.txt", "PUT", 409),  # no such collection for them
        ("parent_7b", "7a/Arbeitsblatt.pdf", "GET", 404),
    ],
)
def test_permission_matrix(files, parents, client, who, path, method, status):
    user = getattr(files, who)
    path = path.format(me=user.username, owner=files.student_7a.username)
    body = b"inhalt" if method == "PUT" else b""
    assert dav(client, method, path, user, body=body).status_code == status


def test_shares_appear_under_the_owners_path(files, client):
    from kreide.files.models import Share

    actor = services.Actor(files.student_7a)
    folder = services.create_folder(actor, files.student_root, "Projekt")
    services.add_file(actor, folder, "plan.txt", store_bytes(b"plan"))
    Share.objects.for_school(files.school).create(
        school=files.school, node=folder, user=files.classmate_7a, can_write=True
    )
    owner = files.student_7a.username
    listing = dav(client, "PROPFIND", f"{owner}/", files.classmate_7a, HTTP_DEPTH="1")
    assert listing.status_code == 207
    assert "Projekt" in listing.content.decode()
    assert "Tagebuch.txt" not in listing.content.decode()  # not shared: invisible
    assert dav(client, "GET", f"{owner}/Projekt/plan.txt", files.classmate_7a).status_code == 200
    assert dav(client, "GET", f"{owner}/Tagebuch.txt", files.classmate_7a).status_code == 404
    assert (
        dav(client, "PUT", f"{owner}/Projekt/neu.txt", files.classmate_7a, body=b"x").status_code
        == 201
    )
    assert dav(client, "PUT", f"{owner}/neu.txt", files.classmate_7a, body=b"x").status_code == 403
    # Others see nothing of it, and a read-only share allows no writes.
    assert dav(client, "GET", f"{owner}/Projekt/plan.txt", files.student_7b).status_code == 404
    Share.unscoped.update(can_write=False)
    assert (
        dav(client, "PUT", f"{owner}/Projekt/neu2.txt", files.classmate_7a, body=b"x").status_code
        == 403
    )


def test_put_content_is_the_same_file_as_in_the_web_ui(files, client):
    path = f"{files.student_7a.username}/Referat.txt"
    assert dav(client, "PUT", path, files.student_7a, body=b"Hallo").status_code == 201
    node = services.child(files.student_root, "Referat.txt")
    assert node.blob.size == 5
    assert dav(client, "DELETE", path, files.student_7a).status_code == 204
    assert [e.name for e in services.trash_entries(services.Actor(files.student_7a))] == [
        "Referat.txt"
    ]


@pytest.mark.parametrize("name", ["CON", "a%3Ab.txt", "x%3F.txt", "trailing."])
def test_names_that_cannot_be_stored_are_refused(files, client, name):
    response = dav(
        client, "PUT", f"{files.student_7a.username}/{name}", files.student_7a, body=b"x"
    )
    assert response.status_code == 400
    assert response.status_code != 201
    response = dav(client, "MKCOL", f"{files.student_7a.username}/{name}", files.student_7a)
    assert 400 <= response.status_code < 500
    assert services.children(files.student_root) == [files.private_file]


def test_move_collection_into_itself_is_refused(files, client):
    me = files.student_7a.username
    dav(client, "MKCOL", f"{me}/A", files.student_7a)
    response = dav(
        client,
        "MOVE",
        f"{me}/A/",
        files.student_7a,
        HTTP_DESTINATION=f"http://testserver/dav/{me}/A/B/",
    )
    assert response.status_code in (403, 409)


def test_over_quota_put_is_refused_before_storing(files, client):
    from kreide.files.models import FileSettings

    FileSettings.objects.for_school(files.school).create(school=files.school, user_quota_mb=1)
    response = dav(
        client,
        "PUT",
        f"{files.student_7a.username}/gross.bin",
        files.student_7a,
        body=b"x" * (1024 * 1024 + 10),
    )
    assert response.status_code == 507
    assert services.child(files.student_root, "gross.bin") is None


def test_lock_blocks_other_writers(files, client, client_for):
    lock_body = (
        b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
    )
    # Readers cannot lock (a lock would block the teachers' writes).
    assert (
        dav(client, "LOCK", "7a/Arbeitsblatt.pdf", files.student_7a, body=lock_body).status_code
        == 403
    )
    response = dav(client, "LOCK", "7a/Arbeitsblatt.pdf", files.teacher_7a, body=lock_body)
    assert response.status_code == 200
    token = response["Lock-Token"]
    files.teacher_7b.memberships.create(school=files.school, group=files.class_7a, role="teacher")
    blocked = dav(client, "PUT", "7a/Arbeitsblatt.pdf", files.teacher_7b, body=b"neu")
    assert blocked.status_code == 423
    # The web UI leaves the locked file alone too.
    refused = client_for(files.teacher_7b).post(
        reverse("files:delete", args=[files.class_file.pk]), follow=True
    )
    assert "WebDAV-Sperre" in refused.content.decode()
    allowed = dav(
        client, "PUT", "7a/Arbeitsblatt.pdf", files.teacher_7a, body=b"neu", HTTP_IF=f"({token})"
    )
    assert allowed.status_code == 204


def test_app_passwords_and_two_factor(files, client):
    secret = "abc-def-ghi-jkl"
    AppPassword.objects.for_school(files.school).create(
        school=files.school,
        user=files.student_7a,
        name="Laptop",
        secret_sha256=app_password_hash(secret),
    )
    assert dav(client, "PROPFIND", "", files.student_7a, secret, HTTP_DEPTH="0").status_code == 207
    TOTPDevice.objects.create(user=files.student_7a, name="Handy", confirmed=True)
    cache.clear()
    assert dav(client, "PROPFIND", "", files.student_7a, HTTP_DEPTH="0").status_code == 401
    assert dav(client, "PROPFIND", "", files.student_7a, secret, HTTP_DEPTH="0").status_code == 207


def test_successful_password_is_remembered_not_rehashed(
    files, client, django_assert_max_num_queries
):
    dav(client, "PROPFIND", "", files.student_7a, HTTP_DEPTH="0")
    from unittest import mock

    with mock.patch("kreide.files.webdav.authenticate") as authenticate:
        assert dav(client, "PROPFIND", "", files.student_7a, HTTP_DEPTH="0").status_code == 207
        assert not authenticate.called
    # A changed password ends it at once.
    files.student_7a.set_password("new-password-9")
    files.student_7a.save()
    assert dav(client, "PROPFIND", "", files.student_7a, HTTP_DEPTH="0").status_code == 401


def test_initial_password_opens_nothing_until_changed(files, client):
    files.student_7a.must_change_password = True
    files.student_7a.save()
    response = dav(client, "PROPFIND", "", files.student_7a, HTTP_DEPTH="0")
    assert response.status_code == 403
    assert "Startpasswort" in response.content.decode()


def test_chunked_put_needs_a_dechunking_server(files, client):
    path = f"{files.student_7a.username}/chunked.txt"
    chunked = {"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""}
    refused = dav(client, "PUT", path, files.student_7a, body=b"Hallo", **chunked)
    assert refused.status_code == 411
    # Granian (production) de-chunks the body itself: it is stored as sent.
    granian = {"SERVER_SOFTWARE": "Granian", "wsgi.input": io.BytesIO(b"Hallo")}
    stored = dav(client, "PUT", path, files.student_7a, **granian, **chunked)
    assert stored.status_code == 201
    assert services.child(files.student_root, "chunked.txt").size == 5
