"""Sign-in through another OpenID Connect provider (kreide.accounts.upstream).

The provider here is Kreide itself, answering over real HTTP (`live_server`): its
discovery document, token endpoint and JWKS are what Authlib talks to. Two test clients
play the two sites' browsers: one signed in at the provider (school "nord"), one at the
signing-in side (school "sued", whose office set the provider up).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from kreide.accounts import throttle, twofactor, upstream
from kreide.accounts.models import ExternalIdentity, UpstreamProvider, User
from kreide.core.models import AuditEntry
from kreide.oidc import services as oidc

pytestmark = pytest.mark.django_db(transaction=True)
CALLBACK = "http://testserver/accounts/login/provider/return/"


@pytest.fixture
def idp(live_server, world):
    """Kreide as the provider: a client of school "nord" for the signing-in side."""
    client, secret = oidc.add_client(world.school, "Kreide Süd", [CALLBACK], actor=world.admin)
    return live_server.url, client.client_id, secret


@pytest.fixture
def provider(idp, world):
    issuer, client_id, secret = idp
    return upstream.save_provider(
        world.other_admin,
        UpstreamProvider(school=world.other_school),
        secret=secret,
        name="Kreide Nord",
        issuer=issuer,
        client_id=client_id,
        scopes="openid profile",
        claim="sub",
    )


def _link(provider, user, person) -> None:
    upstream.set_external_id(
        provider.school.users.get(role="school_admin"), user, provider, str(person.pk)
    )


def _start(browser: Client, provider, next_url: str = "") -> str:
    response = browser.post(f"/accounts/login/provider/{provider.pk}/", {"next": next_url})
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"]


def _authorize_at_provider(person: User, location: str) -> str:
    """The person, signed in at the provider, follows the redirect there; returns where
    the provider sends the browser back to."""
    at_provider = Client()
    at_provider.force_login(person)
    parts = urlsplit(location)
    response = at_provider.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"].startswith(CALLBACK)
    return response["Location"]


def sign_in(provider, person: User, next_url: str = "") -> tuple[Client, object]:
    browser = Client()
    back = _authorize_at_provider(person, _start(browser, provider, next_url))
    return browser, browser.get(back.removeprefix("http://testserver"))


def _signed_in_as(browser: Client) -> int | None:
    value = browser.session.get(SESSION_KEY)
    return int(value) if value else None


def test_a_linked_account_signs_in_through_the_provider(provider, world):
    _link(provider, world.other_student, world.student_7a)
    browser, response = sign_in(provider, world.student_7a)
    assert response.status_code == 302 and response["Location"] == "/"
    assert _signed_in_as(browser) == world.other_student.pk
    assert browser.get("/").status_code == 200
    firsts = AuditEntry.objects.for_school(world.other_school).filter(
        action="account.upstream_first_sign_in"
    )
    assert firsts.count() == 1 and firsts.get().target_id == str(world.other_student.pk)
    # Once only: the next sign-in is no first one.
    sign_in(provider, world.student_7a)
    assert firsts.count() == 1


def test_the_start_sends_state_nonce_and_pkce(provider, world):
    query = dict(
        pair.split("=", 1) for pair in urlsplit(_start(Client(), provider)).query.split("&")
    )
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    assert query["response_type"] == "code"


def test_the_page_to_return_to_survives_the_trip(provider, world):
    _link(provider, world.other_student, world.student_7a)
    _, response = sign_in(provider, world.student_7a, next_url="/tasks/")
    assert response["Location"] == "/tasks/"
    _, elsewhere = sign_in(provider, world.student_7a, next_url="https://evil.example/")
    assert elsewhere["Location"] == "/"


def test_an_unmatched_sign_in_is_refused_with_a_clear_message(provider, world):
    # Same name, same e-mail: still no match, only the stored external ID counts.
    world.other_student.first_name = world.student_7a.first_name
    world.other_student.last_name = world.student_7a.last_name
    world.other_student.save()
    browser, response = sign_in(provider, world.student_7a)
    assert response.status_code == 403
    text = response.content.decode()
    assert "ist nicht mit einem Konto von Realschule Süd verknüpft" in text
    assert _signed_in_as(browser) is None
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    back = _authorize_at_provider(world.student_7a, _start(english, provider))
    refused = english.get(back.removeprefix("http://testserver"))
    assert "is not linked to an account of Realschule Süd" in refused.content.decode()


def test_an_unmatched_sign_in_creates_an_account_where_the_school_allows(provider, world):
    upstream.save_provider(
        world.other_admin, provider, create_accounts=True, new_account_role=User.Role.TEACHER
    )
    browser, response = sign_in(provider, world.teacher_7a)
    assert response.status_code == 302
    created = User.objects.get(pk=_signed_in_as(browser))
    assert created.school == world.other_school and created.role == User.Role.TEACHER
    assert created.first_name == world.teacher_7a.first_name
    assert not created.has_usable_password() and not created.must_change_password
    identity = ExternalIdentity.objects.for_school(world.other_school).get(user=created)
    assert identity.value == str(world.teacher_7a.pk)
    actions = set(
        AuditEntry.objects.for_school(world.other_school)
        .filter(target_id=str(created.pk))
        .values_list("action", flat=True)
    )
    assert actions == {"account.upstream_created", "account.upstream_first_sign_in"}
    # The next sign-in finds the same account.
    again, _ = sign_in(provider, world.teacher_7a)
    assert _signed_in_as(again) == created.pk


def test_a_wrong_or_replayed_state_is_refused(provider, world):
    _link(provider, world.other_student, world.student_7a)
    browser = Client()
    back = _authorize_at_provider(world.student_7a, _start(browser, provider))
    forged = back.replace("state=", "state=x")
    assert browser.get(forged.removeprefix("http://testserver")).status_code == 403
    # Another browser with a code and state of this one's sign-in.
    thief = Client()
    assert thief.get(back.removeprefix("http://testserver")).status_code == 403
    assert _signed_in_as(thief) is None
    assert browser.get(back.removeprefix("http://testserver")).status_code == 302
    replay = browser.get(back.removeprefix("http://testserver"))
    assert replay.status_code == 403  # the state was used up
    assert "nicht hier begonnen" in replay.content.decode()


def test_a_provider_answering_as_another_issuer_is_refused(provider, world, settings):
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ISS_ENDPOINT": "https://x.example",
    }
    response = Client().post(f"/accounts/login/provider/{provider.pk}/")
    assert response.status_code == 403
    assert "anderer Aussteller" in response.content.decode()


def test_an_unreachable_provider_is_a_clear_refusal(world):
    dead = upstream.save_provider(
        world.other_admin,
        UpstreamProvider(school=world.other_school),
        secret="s",
        name="Weg",
        issuer="http://127.0.0.1:9",
        client_id="x",
    )
    response = Client().post(f"/accounts/login/provider/{dead.pk}/")
    assert response.status_code == 502
    assert "nicht erreichbar" in response.content.decode()


def test_two_factor_asks_the_code_before_the_session(provider, world):
    world.other_teacher.must_change_password = False
    world.other_teacher.save()
    device = twofactor.pending_device(world.other_teacher)
    device.confirmed = True
    device.save()
    _link(provider, world.other_teacher, world.teacher_7a)
    browser, response = sign_in(provider, world.teacher_7a)
    assert response["Location"] == reverse("accounts:login_verify")
    assert _signed_in_as(browser) is None


def test_an_initial_password_is_changed_first(provider, world):
    world.other_student.must_change_password = True
    world.other_student.save()
    _link(provider, world.other_student, world.student_7a)
    browser, response = sign_in(provider, world.student_7a, next_url="/tasks/")
    assert response["Location"] == "/tasks/"
    assert browser.get("/tasks/")["Location"] == "/accounts/password/?next=%2Ftasks%2F"


def test_a_locked_account_is_refused_for_unknown_browsers(provider, world, settings):
    _link(provider, world.other_student, world.student_7a)
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        throttle.record_failure(world.other_student.username, "203.0.113.9", None)
    browser, locked = sign_in(provider, world.student_7a)
    assert locked.status_code == 429 and "Retry-After" in locked
    assert _signed_in_as(browser) is None


def test_a_deactivated_account_is_refused(provider, world):
    _link(provider, world.other_student, world.student_7a)
    world.other_student.is_active = False
    world.other_student.save()
    browser, refused = sign_in(provider, world.student_7a)
    assert refused.status_code == 403 and "deaktiviert" in refused.content.decode()
    assert _signed_in_as(browser) is None


def test_the_sign_in_page_shows_the_buttons(provider, world, client, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):
        page = client.get("/accounts/login/").content.decode()
    assert "Anmelden mit Kreide Nord" in page
    assert "Anmelden mit Kreide Nord" in client.get("/accounts/login/?school=sued").content.decode()
    assert "Kreide Nord" not in client.get("/accounts/login/?school=nord").content.decode()
    upstream.save_provider(world.other_admin, provider, enabled=False)
    assert "Kreide Nord" not in client.get("/accounts/login/").content.decode()


def test_a_later_visit_of_the_sign_in_page_reads_the_cache_once(
    provider, world, client, cache_reads, django_assert_num_queries
):
    client.get("/accounts/login/")  # the buttons' version is set, this process keeps them
    cache_reads.clear()
    with django_assert_num_queries(0):
        page = client.get("/accounts/login/").content.decode()
    assert "Anmelden mit Kreide Nord" in page
    # One round trip: the banners' keys and the buttons' version together.
    assert len(cache_reads) == 1 and upstream.BUTTONS_VERSION_KEY in cache_reads[0][1]
    upstream.save_provider(world.other_admin, provider, name="Kreide Nordost")
    assert "Anmelden mit Kreide Nordost" in client.get("/accounts/login/").content.decode()
