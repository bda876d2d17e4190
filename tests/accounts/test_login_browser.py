import pytest
from django.test import override_settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_student_signs_in_and_sees_dashboard(page, sign_in, world):
    sign_in(page, world.student_7a.username)
    page.wait_for_url("**/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Hallo")
    assert page.get_by_role("heading", name="Meine Klassen und Gruppen").is_visible()


@override_settings(LOGIN_FAILURES_PER_ACCOUNT=3)
def test_wrong_password_until_lockout_message(page, sign_in, world):
    for _ in range(2):
        sign_in(page, world.student_7a.username, "falsch")
        assert page.get_by_text("Benutzername oder Passwort ist nicht korrekt.").is_visible()
    sign_in(page, world.student_7a.username, "falsch")
    assert page.get_by_text("Zu viele fehlgeschlagene Anmeldeversuche").is_visible()
