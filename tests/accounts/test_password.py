import base64

from kreide.accounts import services
from tests.conftest import PASSWORD


def test_forced_password_change_blocks_other_pages(client_for, world):
    world.student_7a.must_change_password = True
    world.student_7a.save()
    client = client_for(world.student_7a)
    assert client.get("/")["Location"] == "/accounts/password/"
    response = client.post(
        "/accounts/password/",
        {
            "current_password": PASSWORD,
            "new_password1": "Sonnenblume-42",
            "new_password2": "Sonnenblume-42",
        },
    )
    assert response.status_code == 302
    world.student_7a.refresh_from_db()
    assert not world.student_7a.must_change_password
    assert world.student_7a.check_password("Sonnenblume-42")
    assert client.get("/").status_code == 200


def test_password_change_rejects_mismatch_and_weak(client_for, world):
    client = client_for(world.student_7a)
    response = client.post(
        "/accounts/password/",
        {"current_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["new_password1"]
    response = client.post(
        "/accounts/password/",
        {
            "current_password": "falsch",
            "new_password1": "Sonnenblume-42",
            "new_password2": "Sonnenblume-43",
        },
    )
    errors = response.context["form"].errors
    assert "current_password" in errors and "new_password2" in errors


def test_teacher_resets_password_of_own_student_only(world):
    import pytest
    from django.core.exceptions import PermissionDenied

    new_password = services.reset_password(world.teacher_7a, world.student_7a)
    world.student_7a.refresh_from_db()
    assert world.student_7a.check_password(new_password)
    assert world.student_7a.must_change_password
    for target in (world.student_7b, world.other_student, world.teacher_7b):
        with pytest.raises(PermissionDenied):
            services.reset_password(world.teacher_7a, target)
    with pytest.raises(PermissionDenied):
        services.reset_password(world.other_admin, world.student_7a)
    assert services.reset_password(world.admin, world.teacher_7b)


def test_an_initial_password_opens_no_other_way_in_until_changed(client_for, world):
    """Pages, the JSON API, tus uploads and WebDAV all ask the same gate (the WebSocket:
    tests/messenger/test_realtime.py)."""
    student = world.student_7a
    student.must_change_password = True
    student.save(update_fields=["must_change_password"])
    client = client_for(student)
    refused = "Bitte zuerst im Browser das Startpasswort ändern."
    assert client.get("/tasks/")["Location"] == "/accounts/password/?next=%2Ftasks%2F"
    api = client.get("/api/v1/tasks/")
    assert api.status_code == 403 and api.json() == {"detail": refused}
    posted = client.post("/api/v1/tasks/", "{}", content_type="application/json")
    assert posted.status_code == 403
    upload = client.post(
        "/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH="5",
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(b"a.txt").decode(),
    )
    assert upload.status_code == 403 and upload.content.decode() == refused
    fragment = client.get("/messages/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 403
    credentials = base64.b64encode(f"{student.username}:{PASSWORD}".encode()).decode()
    dav = client.generic(
        "PROPFIND", f"/dav/{student.username}/", HTTP_AUTHORIZATION=f"Basic {credentials}"
    )
    assert dav.status_code == 403 and dav.content.decode() == refused
    assert client.get("/accounts/password/").status_code == 200
