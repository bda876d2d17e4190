import pytest
from django.contrib.auth.hashers import identify_hasher
from django.test import override_settings

from tests.conftest import PASSWORD


def test_passwords_use_argon2id_at_owasp_parameters(world):
    world.student_7a.set_password("ein-neues-passwort")
    encoded = world.student_7a.password
    assert identify_hasher(encoded).algorithm == "argon2"
    assert encoded.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_login_by_username_and_by_email(client, world):
    world.teacher_7a.email = "lehrerin@nord.example"
    world.teacher_7a.save()
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username.upper(), "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    client.post("/accounts/logout/")
    response = client.post(
        "/accounts/login/", {"username": "Lehrerin@Nord.example", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").context["user"] == world.teacher_7a


def test_stay_signed_in_controls_session_lifetime(client, world):
    client.post(
        "/accounts/login/",
        {"username": world.student_7a.username, "password": PASSWORD, "remember": "on"},
    )
    assert client.session.get_expire_at_browser_close() is False
    assert client.session.get_expiry_age() == 30 * 24 * 3600
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD})
    assert client.session.get_expire_at_browser_close() is True


def test_wrong_password_gives_clear_message(client, world):
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": "falsch"}
    )
    assert response.status_code == 200
    assert "Benutzername oder Passwort ist nicht korrekt." in response.content.decode()


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_account_lockout_after_repeated_failures(client, world):
    for _ in range(2):
        assert (
            client.post(
                "/accounts/login/", {"username": world.student_7a.username, "password": "falsch"}
            ).status_code
            == 200
        )
    locked = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": "falsch"}
    )
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in locked.content.decode()
    # Even the right password is refused while locked, and costs no hash.
    still_locked = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
    )
    assert still_locked.status_code == 429
    # Another account from another address is unaffected.
    other = client.post(
        "/accounts/login/",
        {"username": world.student_7b.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
    )
    assert other.status_code == 302


@override_settings(LOGIN_FAILURES_PER_ADDRESS=4, LOGIN_FAILURES_PER_ACCOUNT=100)
def test_address_lockout_across_accounts(client, world):
    for index in range(3):
        client.post("/accounts/login/", {"username": f"niemand{index}", "password": "x"})
    locked = client.post("/accounts/login/", {"username": "niemand9", "password": "x"})
    assert locked.status_code == 429
    assert (
        client.post(
            "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
        ).status_code
        == 429
    )


def test_deactivated_user_cannot_sign_in(client, world):
    world.student_7a.is_active = False
    world.student_7a.save()
    response = client.post(
        "/accounts/login/", {"username": world.student_7a.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_open_redirect_refused(client, world):
    response = client.post(
        "/accounts/login/?next=https://evil.example/",
        {"username": world.student_7a.username, "password": PASSWORD},
    )
    assert response["Location"] == "/"


@pytest.mark.parametrize("language,text", [("de", "Anmelden"), ("en", "Sign in")])
def test_login_page_in_both_languages(client, db, language, text):
    response = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=language)
    assert f"<h1>{text}</h1>" in response.content.decode()
