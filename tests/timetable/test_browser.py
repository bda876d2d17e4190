import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_student_sees_todays_changes_on_a_phone(tt, browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.get_by_label("Benutzername oder E-Mail").fill(tt.student_7a.username)
        page.get_by_label("Passwort", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Anmelden").click()
        section = page.locator("section", has=page.get_by_role("heading", name="Vertretungsplan"))
        section.get_by_text("Aufgaben im Kreide-Ordner").wait_for()
        assert section.get_by_text("Entfall").first.is_visible()
        section.get_by_role("link", name="Mein Stundenplan").click()
        first_day = page.locator(".tt-day").first
        first_day.get_by_text("Übungen zur Grammatik").wait_for()
        # Nothing wider than the phone: no sideways scrolling for the day.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
