import re
import time

import pytest
from django.test import override_settings
from django_otp.oath import hotp, totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kreide.core.models import AuditEntry
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _no_device_throttle(settings):
    # django-otp's own delay after a wrong code (1 s, doubling) would slow the tests; the
    # sign-in lockout tested below applies regardless.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def _code(device: TOTPDevice, drift: int = 0) -> str:
    """The app's code; drift=1 is the next one (a code is accepted only once)."""
    key, step, digits = device.bin_key, device.step, device.digits
    return f"{totp(key, step=step, t0=device.t0, digits=digits, drift=drift):06d}"


def _used_code(device: TOTPDevice) -> str:
    """The code the device accepted last: a replay of it, whenever it comes. (The code of
    the moment is a new one once its 30 s step has passed since.)"""
    return f"{hotp(device.bin_key, device.last_t, digits=device.digits):06d}"


def _enable(client_for, user) -> tuple[TOTPDevice, list[str]]:
    signed_in = client_for(user)
    page = signed_in.get("/accounts/two-factor/")
    assert page.status_code == 200
    assert re.search(r'<img class="qr" src="data:image/svg\+xml', page.content.decode())
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = signed_in.post(
        "/accounts/two-factor/",
        {"action": "confirm", "code": "000000" if _code(device) != "000000" else "111111"},
    )
    assert "Dieser Code ist nicht korrekt." in wrong.content.decode()
    response = signed_in.post("/accounts/two-factor/", {"action": "confirm", "code": _code(device)})
    codes = response.context["backup_codes"]
    assert len(codes) == 10
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


def _password_step(client, user):
    return client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})


def test_sign_in_asks_for_the_code_before_the_session_counts(client, client_for, world):
    device, _codes = _enable(client_for, world.teacher_7a)
    response = _password_step(client, world.teacher_7a)
    assert response.status_code == 302 and response["Location"] == "/accounts/login/code/"
    # Password alone: not signed in.
    assert client.get("/").status_code == 302
    assert "_auth_user_id" not in client.session
    device.refresh_from_db()
    replayed = client.post("/accounts/login/code/", {"code": _used_code(device)})
    assert replayed.status_code == 200 and "_auth_user_id" not in client.session
    response = client.post("/accounts/login/code/", {"code": _code(device, drift=1)})
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and home.context["user"] == world.teacher_7a
    assert home.context["request"].user.is_verified()
    assert (
        AuditEntry.objects.for_school(world.school)
        .filter(action="account.2fa_enabled", actor=world.teacher_7a)
        .exists()
    )


def test_backup_code_works_once(client, client_for, world):
    _device, codes = _enable(client_for, world.admin)
    _password_step(client, world.admin)
    assert client.post("/accounts/login/code/", {"code": codes[0]})["Location"] == "/"
    client.post("/accounts/logout/")
    _password_step(client, world.admin)
    reused = client.post("/accounts/login/code/", {"code": codes[0]})
    assert reused.status_code == 200 and "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_wrong_codes_lead_to_lockout(client, client_for, world):
    device, _codes = _enable(client_for, world.teacher_7a)
    wrong = "000000" if _code(device) != "000000" else "111111"
    _password_step(client, world.teacher_7a)
    for _ in range(2):
        response = client.post("/accounts/login/code/", {"code": wrong})
        assert response.status_code == 200
    locked = client.post("/accounts/login/code/", {"code": wrong})
    assert locked.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldeversuche" in locked.content.decode()
    # Locked: even the right password and code do not get in now.
    again = _password_step(client, world.teacher_7a)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_pending_step_expires(client, client_for, world, monkeypatch):
    device, _codes = _enable(client_for, world.teacher_7a)
    _password_step(client, world.teacher_7a)
    later = time.time() + 6 * 60
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post("/accounts/login/code/", {"code": _code(device)})
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_disable_needs_password_and_students_cannot_enable(client_for, world):
    _enable(client_for, world.teacher_7a)
    signed_in = client_for(world.teacher_7a)
    refused = signed_in.post("/accounts/two-factor/", {"action": "disable", "password": "falsch"})
    assert "Ihr Passwort ist nicht korrekt." in refused.content.decode()
    assert TOTPDevice.objects.filter(user=world.teacher_7a, confirmed=True).exists()
    signed_in.post("/accounts/two-factor/", {"action": "disable", "password": PASSWORD})
    assert not TOTPDevice.objects.filter(user=world.teacher_7a).exists()
    assert client_for(world.student_7a).get("/accounts/two-factor/").status_code == 403


def test_school_admin_turns_off_a_lost_second_factor(client_for, world):
    _enable(client_for, world.teacher_7a)
    url = f"/accounts/admin/users/{world.teacher_7a.pk}/two-factor/"
    assert client_for(world.teacher_7b).post(url).status_code == 403
    assert client_for(world.other_admin).post(url).status_code == 404
    assert TOTPDevice.objects.filter(user=world.teacher_7a).exists()
    page = client_for(world.admin).get(f"/accounts/admin/users/{world.teacher_7a.pk}/")
    assert "Zwei-Faktor-Anmeldung ausschalten" in page.content.decode()
    assert client_for(world.admin).post(url).status_code == 302
    assert not TOTPDevice.objects.filter(user=world.teacher_7a).exists()
    assert (
        AuditEntry.objects.for_school(world.school)
        .filter(action="account.2fa_reset", actor=world.admin)
        .exists()
    )
