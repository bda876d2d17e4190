"""The school office connects a tool (an OpenID Connect client) itself."""

import pytest
from django.contrib.auth.hashers import check_password
from django.core.exceptions import PermissionDenied

from kreide.core.models import AuditEntry
from kreide.oidc import services
from kreide.oidc.models import Client
from tests.oidc.conftest import REDIRECT, query_of
from tests.visible import visible_text

ADD = "/accounts/admin/sso/clients/new/"
LIST = "/accounts/admin/sso/clients/"


def _form(**changes) -> dict:
    return {"name": "Moodle", "redirect_uris": REDIRECT, **changes}


def test_the_office_connects_a_tool_and_sees_its_secret_once(
    world, client_for, django_assert_max_num_queries
):
    office = client_for(world.admin)
    assert "Werkzeug anbinden" in visible_text(office.get(LIST).content)
    assert office.get(ADD).status_code == 200
    with django_assert_max_num_queries(12):
        added = office.post(ADD, _form(redirect_uris=f"{REDIRECT}\n{REDIRECT}2\n"))
    assert added.status_code == 200 and added["Cache-Control"] == "no-store"
    tool = services.clients_of(world.school).get()
    page = added.content.decode()
    secret = page.split('<code id="client-secret">', 1)[1].split("</code>", 1)[0]
    assert len(secret) > 40 and tool.client_id in page
    assert "nur dieses eine Mal" in visible_text(page)
    # Stored hashed only, and never shown again.
    assert tool.client_secret != secret and check_password(secret, tool.client_secret)
    assert secret not in office.get(LIST).content.decode()
    assert tool.redirect_uris == f"{REDIRECT} {REDIRECT}2"
    assert tool.require_pkce and tool.skip_authorization and tool.school == world.school


def test_the_tool_the_office_connected_signs_people_in(world, client_for, authorize, exchange):
    added = client_for(world.admin).post(ADD, _form())
    secret = added.content.decode().split('<code id="client-secret">', 1)[1].split("</code>")[0]
    tool = services.clients_of(world.school).get()
    response, verifier = authorize(client_for(world.student_7a), tool)
    code = query_of(response["Location"])["code"]
    tokens = exchange(tool, code, verifier, secret=secret)
    assert tokens.status_code == 200, tokens.content
    assert "id_token" in tokens.json()


def test_pkce_goes_off_only_when_switched_off(world, client_for):
    office = client_for(world.admin)
    office.post(ADD, _form(name="Greenlight", without_pkce="on"))
    office.post(ADD, _form(name="Nextcloud", redirect_uris=f"{REDIRECT}nc"))
    tools = dict(services.clients_of(world.school).values_list("name", "require_pkce"))
    assert tools == {"Greenlight": False, "Nextcloud": True}
    assert "aus" in visible_text(office.get(LIST).content).split()


def test_the_audit_log_names_the_admin(world, client_for):
    client_for(world.admin).post(ADD, _form())
    tool = services.clients_of(world.school).get()
    entry = AuditEntry.unscoped.get(action="oidc.client_added", target_id=str(tool.pk))
    assert entry.actor_id == world.admin.pk and entry.school_id == world.school.pk


@pytest.mark.parametrize("who", ["student_7a", "teacher_7a"])
def test_students_and_teachers_cannot_connect_tools(who, world, client_for):
    browser = client_for(getattr(world, who))
    assert browser.get(ADD).status_code == 403
    assert browser.post(ADD, _form()).status_code == 403
    assert not Client.objects.exists()


def test_another_schools_admin_connects_only_to_their_own_school(world, client_for):
    other = client_for(world.other_admin)
    other.post(ADD, _form(name="Their Moodle"))
    assert not services.clients_of(world.school).exists()
    theirs = services.clients_of(world.other_school).get()
    assert "Their Moodle" not in visible_text(client_for(world.admin).get(LIST).content)
    # The service itself refuses a person who does not administer the school.
    with pytest.raises(PermissionDenied):
        services.add_client(world.school, "Sneaky", [REDIRECT], actor=world.other_admin)
    assert not services.clients_of(world.school).exists()
    assert not AuditEntry.unscoped.filter(school=world.school, action="oidc.client_added")
    assert theirs.school == world.other_school


@pytest.mark.parametrize(
    "uris",
    ["javascript:alert(1)", "moodle.example/callback", "https://moodle.example/cb#x", "https://"],
)
def test_a_bad_return_address_is_explained_in_german_and_nothing_is_stored(uris, world, client_for):
    answer = client_for(world.admin).post(ADD, _form(redirect_uris=f"{REDIRECT}\n{uris}"))
    assert answer.status_code == 200
    text = visible_text(answer.content)
    assert f"„{uris}“ ist keine gültige Rücksprungadresse" in text
    assert "beginnend mit https://" in text
    assert 'id="client-secret"' not in answer.content.decode()
    assert not Client.objects.exists()
    assert not AuditEntry.unscoped.filter(action="oidc.client_added").exists()


def test_without_any_return_address_nothing_is_stored(world, client_for):
    answer = client_for(world.admin).post(ADD, _form(redirect_uris=" "))
    assert answer.status_code == 200
    assert not Client.objects.exists()


def test_the_form_is_english_for_english_readers(world, client_for):
    office = client_for(world.admin)
    page = office.get(ADD, HTTP_ACCEPT_LANGUAGE="en")
    answer = office.post(ADD, _form(redirect_uris="ftp://x"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Connect a tool" in visible_text(page.content)
    assert "“ftp://x” is not a valid return address" in visible_text(answer.content)
