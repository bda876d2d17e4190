"""The API's home: personal tokens for scripts (scoped, revocable, audited), GET /api/v1/me,
one OpenAPI document with every app's routes, session writes still CSRF-checked."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kreide.api import services
from kreide.api.models import ApiToken
from kreide.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def _task_body(world) -> str:
    now = timezone.now()
    return json.dumps(
        {
            "title": "Per Skript",
            "groups": [world.class_7a.pk],
            "starts_at": now.isoformat(),
            "due_at": (now + timedelta(days=2)).isoformat(),
            "expects": "text",
            "max_file_mb": 5,
        }
    )


def test_a_token_is_created_once_used_by_scripts_and_revoked(world, client_for):
    page = client_for(world.teacher_7a)
    response = page.post(reverse("api_tokens"), {"name": "Notenskript", "scope": "write"})
    secret = response.content.decode().split('id="new-api-token">')[1].split("<")[0]
    token = ApiToken.objects.for_school(world.school).get()
    assert secret.startswith("kreide_") and secret not in token.secret_sha256
    script = Client()  # no session, no CSRF cookie: only the token
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    me = script.get("/api/v1/me", **auth).json()
    assert me["username"] == world.teacher_7a.username and me["role"] == "teacher"
    assert me["school"]["slug"] == world.school.slug
    assert me["groups"] == [
        {"id": world.class_7a.pk, "name": "7a", "kind": "class", "role": "teacher"}
    ]
    created = script.post(
        reverse("api:tasks"), _task_body(world), content_type="application/json", **auth
    )
    assert created.status_code == 201, created.content
    page.post(reverse("api_token_revoke", args=[token.pk]))
    assert script.get("/api/v1/me", **auth).status_code == 401
    actions = AuditEntry.objects.for_school(world.school).values_list("action", flat=True)
    assert list(actions.order_by("pk")) == ["api.token_created", "api.token_revoked"]


def test_read_tokens_only_read_and_bad_tokens_are_401(world):
    secret = services.create_token(world.teacher_7a, "Nur lesen", "read")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    client = Client()
    assert client.get(reverse("api:tasks"), **auth).status_code == 200
    refused = client.post(
        reverse("api:tasks"), _task_body(world), content_type="application/json", **auth
    )
    assert refused.status_code == 403 and "nur lesen" in refused.json()["detail"]
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer kreide_nope").status_code == 401
    world.teacher_7a.is_active = False
    world.teacher_7a.save()
    assert client.get("/api/v1/me", **auth).status_code == 401


def test_session_writes_still_need_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.teacher_7a)
    refused = client.post(reverse("api:tasks"), _task_body(world), content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    client.get("/tasks/")  # the page sets the CSRF cookie, as in the browser
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(
        reverse("api:tasks"),
        _task_body(world),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert accepted.status_code == 201, accepted.content


def test_me_shows_only_active_groups_with_a_fixed_number_of_queries(
    world, client_for, deactivate, django_assert_max_num_queries
):
    client = client_for(world.student_7a)
    with django_assert_max_num_queries(8):
        me = client.get("/api/v1/me").json()
    assert [group["name"] for group in me["groups"]] == ["7a"]
    deactivate(world.class_7a)
    assert client.get("/api/v1/me").json()["groups"] == []
    assert Client().get("/api/v1/me").status_code == 401


def test_one_openapi_document_with_every_apps_routes(client):
    document = client.get("/api/v1/openapi.json").json()
    for route in ("/api/v1/me", "/api/v1/tasks/", "/api/v1/tasks/{task_id}", "/uploads/"):
        assert route in document["paths"], route
    assert {"token", "session"} <= set(document["components"]["securitySchemes"])


def test_a_token_opens_nothing_while_the_password_must_be_changed(world):
    secret = services.create_token(world.teacher_7a, "Skript", "write")
    world.teacher_7a.must_change_password = True  # reset by the school office
    world.teacher_7a.save(update_fields=["must_change_password"])
    # kreide.schools.access.participates: the token's owner may not act until then.
    refused = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert refused.status_code == 401
