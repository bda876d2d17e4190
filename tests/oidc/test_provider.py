"""Kreide as OpenID Connect provider, driven through the protocol with Django's client."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.models import AccessToken, Grant

from kreide.accounts import throttle
from kreide.core.errors import Refusal
from kreide.core.models import AuditEntry
from kreide.oidc import services
from kreide.oidc.models import SigningKey
from kreide.schools.models import Group, Membership
from kreide.schools.services import set_group_active
from tests.conftest import PASSWORD
from tests.oidc.conftest import REDIRECT, basic, query_of
from tests.visible import visible_text


def verified_claims(client, token: str) -> dict:
    """Check the id_token's signature against the published JWKS, as a relying party does."""
    keys = jwk.JWKSet.from_json(client.get("/oidc/jwks/").content)
    return json.loads(jwt.JWT(jwt=token, key=keys).claims)


def sign_in_to(rp, user, client_for, authorize, exchange) -> dict:
    response, verifier = authorize(client_for(user), rp)
    assert response.status_code == 302, response.content
    code = query_of(response["Location"])["code"]
    tokens = exchange(rp, code, verifier)
    assert tokens.status_code == 200, tokens.content
    return tokens.json()


def test_discovery_names_the_endpoints_and_scopes(client, db):
    data = client.get("/.well-known/openid-configuration").json()
    assert data["issuer"] == "http://testserver"
    assert data["jwks_uri"] == "http://testserver/oidc/jwks/"
    assert data["authorization_endpoint"] == "http://testserver/oidc/authorize/"
    assert data["end_session_endpoint"] == "http://testserver/oidc/logout/"
    assert "S256" in data["code_challenge_methods_supported"]
    assert {"school", "roles", "groups"} <= set(data["scopes_supported"])
    assert {"school", "classes", "groups", "email"} <= set(data["claims_supported"])
    assert data["id_token_signing_alg_values_supported"][0] == "RS256"


def test_code_flow_with_pkce_gives_signed_claims_of_school_and_classes(
    world, rp, client, client_for, authorize, exchange, make_group
):
    club = make_group(world.school, "Chemie-AG", kind=Group.Kind.WORKGROUP, grade=None)
    Membership.unscoped.create(school=world.school, group=club, user=world.student_7a)
    response, verifier = authorize(client_for(world.student_7a), rp)
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT)
    assert query_of(response["Location"])["state"] == "state-1"

    tokens = exchange(rp, query_of(response["Location"])["code"], verifier)
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    claims = verified_claims(client, body["id_token"])
    assert claims["iss"] == "http://testserver"
    assert claims["aud"] == rp.client_id
    assert claims["sub"] == str(world.student_7a.pk)
    assert claims["nonce"] == "nonce-1"
    assert claims["school"] == "nord"
    assert claims["roles"] == ["student"]
    assert claims["classes"] == ["7a"]
    assert sorted(claims["groups"]) == ["7a", "Chemie-AG"]

    info = client.get("/oidc/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert info.status_code == 200
    assert info.json()["preferred_username"] == world.student_7a.username
    assert info.json()["classes"] == ["7a"]


def test_the_groups_claims_leave_a_deactivated_group_out_until_reactivated(
    world, rp, client, client_for, authorize, exchange, make_group
):
    club = make_group(world.school, "Chemie-AG", kind=Group.Kind.WORKGROUP, grade=None)
    Membership.unscoped.create(school=world.school, group=club, user=world.student_7a)
    set_group_active(world.admin, club, False)
    set_group_active(world.admin, world.class_7a, False)
    body = sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    claims = verified_claims(client, body["id_token"])
    assert claims["classes"] == [] and claims["groups"] == []

    set_group_active(world.admin, club, True)
    info = client.get("/oidc/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert info.json()["groups"] == ["Chemie-AG"] and info.json()["classes"] == []
    set_group_active(world.admin, world.class_7a, True)
    info = client.get("/oidc/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert sorted(info.json()["groups"]) == ["7a", "Chemie-AG"]
    assert info.json()["classes"] == ["7a"]


def test_claims_follow_the_scopes_asked_for(world, rp, client, client_for, authorize, exchange):
    response, verifier = authorize(client_for(world.teacher_7a), rp, scope="openid email")
    body = exchange(rp, query_of(response["Location"])["code"], verifier).json()
    claims = verified_claims(client, body["id_token"])
    assert "email" in claims
    assert not {"school", "groups", "classes", "roles", "name"} & set(claims)


def test_a_replayed_code_is_refused(world, rp, client_for, authorize, exchange):
    response, verifier = authorize(client_for(world.student_7a), rp)
    code = query_of(response["Location"])["code"]
    assert exchange(rp, code, verifier).status_code == 200
    replay = exchange(rp, code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_a_wrong_code_verifier_is_refused(world, rp, client_for, authorize, exchange):
    response, _ = authorize(client_for(world.student_7a), rp)
    refused = exchange(rp, query_of(response["Location"])["code"], "x" * 50)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_pkce_is_required(world, rp, client_for, authorize):
    response, _ = authorize(client_for(world.student_7a), rp, pkce=False)
    assert response.status_code == 302
    assert query_of(response["Location"])["error"] == "invalid_request"
    assert "code" not in query_of(response["Location"])


def test_a_tool_registered_without_pkce_signs_in_as_greenlight_asks(
    world, client, client_for, capsys
):
    """Greenlight 3 (docs/sso.md): no code challenge, scopes openid email profile, the
    secret at the token endpoint, uid from `sub`."""
    callback = "https://bbb.nord.example/auth/openid_connect/callback"
    call_command(
        "oidc_client", "add", "--school", "nord", "--name", "Greenlight", "--without-pkce",
        "--redirect-uri", callback,
    )  # fmt: skip
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    asked = {
        "response_type": "code",
        "client_id": printed["client_id"],
        "redirect_uri": callback,
        "scope": "openid email profile",
        "state": "s",
        "nonce": "n",
    }
    response = client_for(world.student_7a).get("/oidc/authorize/", asked)
    code = query_of(response["Location"])["code"]
    tokens = client.post(
        "/oidc/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": callback},
        HTTP_AUTHORIZATION=basic(printed["client_id"], printed["client_secret"]),
    )
    assert tokens.status_code == 200, tokens.content
    claims = verified_claims(client, tokens.json()["id_token"])
    assert claims["sub"] == str(world.student_7a.pk) and claims["nonce"] == "n"


def test_a_wrong_redirect_uri_is_never_redirected_to(world, rp, client_for, authorize):
    response, _ = authorize(client_for(world.student_7a), rp, redirect_uri="https://evil.example/")
    assert response.status_code == 400
    assert "evil.example" not in response.get("Location", "")


def test_a_client_of_another_school_signs_nobody_in(world, rp, client_for, authorize):
    response, _ = authorize(client_for(world.other_student), rp)
    assert response.status_code == 403
    assert "Location" not in response
    assert "Moodle" in response.content.decode()


def test_without_a_session_the_sign_in_is_kreides_own_page(world, rp, client, authorize):
    response, _ = authorize(client, rp)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/oidc/authorize/")


def test_an_initial_password_must_be_changed_first(world, rp, client_for, authorize):
    world.student_7a.must_change_password = True
    world.student_7a.save()
    response, _ = authorize(client_for(world.student_7a), rp)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/password/?next=%2Foidc%2Fauthorize%2F")


def test_after_the_forced_change_the_sign_in_into_the_tool_goes_on(
    world, rp, client, authorize, exchange
):
    """Signed out, at the tool's authorization request: sign-in page, forced change of the
    initial password, then back to the authorization request and on to the tool."""
    world.student_7a.must_change_password = True
    world.student_7a.save()
    response, verifier = authorize(client, rp)
    login_url = response["Location"]
    signed_in = client.post(
        login_url, {"username": world.student_7a.username, "password": PASSWORD}
    )
    assert signed_in["Location"].startswith("/oidc/authorize/")
    gated = client.get(signed_in["Location"])
    change_url = gated["Location"]
    assert change_url.startswith("/accounts/password/?next=")
    form = client.get(change_url)
    assert 'name="next"' in form.content.decode()
    changed = client.post(
        "/accounts/password/",
        {
            "current_password": PASSWORD,
            "new_password1": "Sonnenblume-42",
            "new_password2": "Sonnenblume-42",
            "next": form.context["next"],
        },
    )
    assert changed.status_code == 302
    assert changed["Location"] == signed_in["Location"]
    back_at_tool = client.get(changed["Location"])
    assert back_at_tool.status_code == 302
    assert back_at_tool["Location"].startswith(REDIRECT)
    code = query_of(back_at_tool["Location"])["code"]
    assert exchange(rp, code, verifier).status_code == 200


def test_a_locked_account_gets_the_lockout_and_no_code(world, rp, client, authorize, settings):
    """The tool's sign-in is Kreide's own form, lockout included: the right password from an
    unknown browser of a locked account gets the lockout answer, no session, no code."""
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        throttle.record_failure(world.student_7a.username, "203.0.113.9", None)
    response, _ = authorize(client, rp)
    login_url = response["Location"]
    next_url = query_of(login_url)["next"]
    assert next_url.startswith("/oidc/authorize/")
    locked = client.post(
        login_url,
        {"username": world.student_7a.username, "password": PASSWORD, "next": next_url},
    )
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in visible_text(locked.content)
    assert SESSION_KEY not in client.session
    again = client.get(next_url)
    assert again["Location"].startswith("/accounts/login/")
    assert not Grant.objects.exists() and not AccessToken.objects.exists()


def test_the_password_change_never_sends_elsewhere(world, client_for):
    client = client_for(world.student_7a)
    response = client.post(
        "/accounts/password/?next=https://evil.example/",
        {
            "current_password": PASSWORD,
            "new_password1": "Sonnenblume-42",
            "new_password2": "Sonnenblume-42",
            "next": "https://evil.example/",
        },
    )
    assert response["Location"] == "/"


def test_refresh_tokens_give_new_access_tokens(world, rp, client, client_for, authorize, exchange):
    body = sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    refreshed = client.post(
        "/oidc/token/",
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed.json()["access_token"] != body["access_token"]
    again = client.post(
        "/oidc/token/",
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert again.status_code == 400


def test_a_wrong_client_secret_is_refused(world, rp, client_for, authorize, exchange):
    response, verifier = authorize(client_for(world.student_7a), rp)
    refused = exchange(rp, query_of(response["Location"])["code"], verifier, secret="wrong")
    assert refused.status_code == 401


def test_rotated_keys_stay_published_and_new_tokens_use_the_new_one(
    world, rp, client, client_for, authorize, exchange
):
    before = sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    call_command("oidc_rotate_keys")
    after = sign_in_to(rp, world.classmate_7a, client_for, authorize, exchange)
    old_kid = jwt.JWT(jwt=before["id_token"]).token.jose_header["kid"]
    new_kid = jwt.JWT(jwt=after["id_token"]).token.jose_header["kid"]
    assert old_kid != new_kid
    published = {key["kid"] for key in client.get("/oidc/jwks/").json()["keys"]}
    assert published == {old_kid, new_kid}
    assert verified_claims(client, before["id_token"])["sub"] == str(world.student_7a.pk)


def test_a_retired_key_leaves_the_jwks_once_its_tokens_expired_and_rotation_deletes_it(
    world, rp, client, client_for, authorize, exchange, settings, capsys
):
    lifetime = timedelta(seconds=settings.OAUTH2_PROVIDER["ID_TOKEN_EXPIRE_SECONDS"])
    before = sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    old_kid = jwt.JWT(jwt=before["id_token"]).token.jose_header["kid"]
    call_command("oidc_rotate_keys")
    new_kid = SigningKey.objects.get(retired_at__isnull=True).kid

    def published() -> set[str]:
        return {key["kid"] for key in client.get("/oidc/jwks/").json()["keys"]}

    def retired_ago(age: timedelta) -> None:
        SigningKey.objects.filter(kid=old_kid).update(retired_at=timezone.now() - age)

    # A token signed just before the rotation may live almost the whole lifetime more.
    retired_ago(lifetime - timedelta(minutes=1))
    assert published() == {old_kid, new_kid}
    assert verified_claims(client, before["id_token"])["sub"] == str(world.student_7a.pk)
    retired_ago(lifetime + timedelta(seconds=1))
    assert published() == {new_kid}
    assert SigningKey.objects.filter(kid=old_kid).exists()  # until the next rotation
    capsys.readouterr()
    call_command("oidc_rotate_keys")
    assert "removed 1 expired old key" in capsys.readouterr().out
    assert not SigningKey.objects.filter(kid=old_kid).exists()
    newest = SigningKey.objects.get(retired_at__isnull=True).kid
    assert published() == {new_kid, newest}


def test_registration_and_first_sign_in_are_audited_once(
    world, rp, client_for, authorize, exchange
):
    sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    actions = list(
        AuditEntry.unscoped.filter(school=world.school, target_id=str(rp.pk)).values_list(
            "action", "actor"
        )
    )
    assert sorted(actions) == [
        ("oidc.client_added", world.admin.pk),
        ("oidc.first_sign_in", world.student_7a.pk),
    ]


def test_rp_initiated_logout_ends_the_kreide_session(world, rp, client_for, authorize, exchange):
    browser = client_for(world.student_7a)
    response, verifier = authorize(browser, rp)
    body = exchange(rp, query_of(response["Location"])["code"], verifier).json()
    out = browser.get(
        "/oidc/logout/", {"id_token_hint": body["id_token"], "client_id": rp.client_id}
    )
    assert out.status_code == 302
    assert browser.get("/").status_code == 302


def test_the_command_registers_a_client_and_prints_its_secret(world, capsys, client):
    call_command(
        "oidc_client",
        "add",
        "--school",
        "nord",
        "--name",
        "Nextcloud",
        "--redirect-uri",
        "https://cloud.nord.example/apps/user_oidc/code",
    )
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    client_ = services.clients_of(world.school).get(name="Nextcloud")
    assert client_.client_id == printed["client_id"]
    assert client_.skip_authorization
    assert client_.client_secret != printed["client_secret"]  # stored hashed only


def test_a_bad_redirect_uri_is_refused_at_registration(world):
    with pytest.raises(Refusal, match="keine gültige Rücksprungadresse"):
        services.add_client(world.school, "Bad", ["javascript:alert(1)"])


def test_the_school_office_lists_and_revokes_only_its_own_clients(world, rp, client_for):
    theirs, _ = services.add_client(world.other_school, "Their Moodle", [REDIRECT])
    office = client_for(world.admin)
    page = office.get("/accounts/admin/sso/clients/").content.decode()
    assert "Moodle" in page and rp.client_id in page
    assert "Their Moodle" not in page
    assert office.post(f"/accounts/admin/sso/clients/{theirs.pk}/revoke/").status_code == 302
    assert services.clients_of(world.other_school).filter(pk=theirs.pk).exists()
    office.post(f"/accounts/admin/sso/clients/{rp.pk}/revoke/")
    assert not services.clients_of(world.school).exists()
    assert AuditEntry.unscoped.filter(action="oidc.client_revoked", actor=world.admin).exists()
    student = client_for(world.student_7a)
    assert student.get("/accounts/admin/sso/clients/").status_code in (302, 403)


def test_two_factor_sign_in_comes_before_the_code(world, rp, client, authorize):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=world.teacher_7a, name="Kreide", confirmed=True)
    to_sign_in, _ = authorize(client, rp)
    next_url = query_of(to_sign_in["Location"])["next"]
    password_step = client.post(
        "/accounts/login/",
        {"username": world.teacher_7a.username, "password": PASSWORD, "next": next_url},
    )
    assert password_step["Location"] == "/accounts/login/code/"
    assert client.get(next_url)["Location"].startswith("/accounts/login/")  # no code yet
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    code_step = client.post("/accounts/login/code/", {"code": f"{code:06d}"})
    assert code_step["Location"] == next_url
    back = client.get(next_url)
    assert back.status_code == 302 and "code" in query_of(back["Location"])


def test_an_expired_code_is_refused(world, rp, client_for, authorize, exchange):
    response, verifier = authorize(client_for(world.student_7a), rp)
    code = query_of(response["Location"])["code"]
    Grant.objects.filter(code=code).update(expires=timezone.now() - timedelta(seconds=1))
    refused = exchange(rp, code, verifier)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"


def test_an_expired_access_token_is_refused_at_userinfo(
    world, rp, client, client_for, authorize, exchange
):
    body = sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    AccessToken.objects.filter(token=body["access_token"]).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    info = client.get("/oidc/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert info.status_code == 401


def test_a_revoked_clients_tokens_stop_working(world, rp, client, client_for, authorize, exchange):
    body = sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    services.revoke_client(world.school, rp.pk, actor=world.admin)
    info = client.get("/oidc/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert info.status_code == 401
    refreshed = client.post(
        "/oidc/token/",
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert refreshed.status_code == 401


def test_the_client_list_costs_the_same_for_many_clients(
    world, client_for, django_assert_max_num_queries
):
    for number in range(12):
        services.add_client(world.school, f"Tool {number}", [f"{REDIRECT}{number}"])
    office = client_for(world.admin)
    with django_assert_max_num_queries(12):
        page = office.get("/accounts/admin/sso/clients/")
    assert page.content.decode().count("/revoke/") == 12


@pytest.mark.parametrize("change", [{"is_active": False}, {"must_change_password": True}])
def test_a_deactivated_or_reset_account_loses_its_tokens_at_once(
    change, world, rp, client, client_for, authorize, exchange
):
    body = sign_in_to(rp, world.student_7a, client_for, authorize, exchange)
    for field, value in change.items():
        setattr(world.student_7a, field, value)
    world.student_7a.save()
    info = client.get("/oidc/userinfo/", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert info.status_code == 401
    refreshed = client.post(
        "/oidc/token/",
        {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"
