"""Operators (Django's admin at /operator/) sign in through Kreide's sign-in: the same
lockout and two-factor step as everybody."""

import pytest
from django.test import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.test_two_factor import _code
from tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def _no_device_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def operator(make_user):
    return make_user(None, username="betrieb", is_staff=True, is_superuser=True)


def _follow_to_sign_in(client) -> str:
    to_admin_login = client.get("/operator/")
    assert to_admin_login.status_code == 302
    to_sign_in = client.get(to_admin_login["Location"])
    assert to_sign_in.status_code == 302
    return to_sign_in["Location"]


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=5)
def test_wrong_operator_passwords_lead_to_the_lockout(client, operator):
    sign_in = _follow_to_sign_in(client)
    assert sign_in == "/accounts/login/?next=/operator/"
    # Django's own admin form checked passwords without any limit; it is gone.
    old_form = client.post("/operator/login/", {"username": "betrieb", "password": "falsch"})
    assert old_form.status_code == 302 and old_form["Location"].startswith("/accounts/login/")
    answers = [
        client.post(sign_in, {"username": "betrieb", "password": f"falsch{n}"}).status_code
        for n in range(40)
    ]
    assert answers == [200] * 4 + [429] * 36
    assert client.post(sign_in, {"username": "betrieb", "password": PASSWORD}).status_code == 429
    assert "_auth_user_id" not in client.session


def test_operator_with_two_factor_enters_the_code_first(client, operator):
    device = TOTPDevice.objects.create(user=operator, name="Kreide", confirmed=True)
    sign_in = _follow_to_sign_in(client)
    password_step = client.post(sign_in, {"username": "betrieb", "password": PASSWORD})
    assert password_step["Location"] == "/accounts/login/code/"
    assert client.get("/operator/").status_code == 302  # the password alone opens nothing
    code_step = client.post("/accounts/login/code/", {"code": _code(device)})
    assert code_step["Location"] == "/operator/"
    assert client.get("/operator/").status_code == 200


def test_operators_can_turn_on_two_factor(client_for, operator):
    signed_in = client_for(operator)
    assert signed_in.get("/accounts/two-factor/").status_code == 200
    device = TOTPDevice.objects.get(user=operator, confirmed=False)
    confirmed = signed_in.post(
        "/accounts/two-factor/", {"action": "confirm", "code": _code(device)}
    )
    assert len(confirmed.context["backup_codes"]) == 10


def test_a_signed_in_teacher_is_refused_not_sent_in_circles(client_for, world):
    teacher = client_for(world.teacher_7a)
    to_admin_login = teacher.get("/operator/")
    assert teacher.get(to_admin_login["Location"]).status_code == 403
