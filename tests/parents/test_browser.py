"""A parent on a phone reports an absence; the class teacher sees and acknowledges it, and
the parent sees the acknowledgement."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_parent_reports_absence_on_a_phone_and_the_teacher_acknowledges(
    family, phone_page, page, sign_in, axe
):
    sign_in(phone_page, family.second_parent.username)  # one child: straight to its page
    phone_page.goto("/parents/")
    phone_page.get_by_role("link", name="Krankmeldung", exact=True).click()
    phone_page.get_by_label("Erster Tag").fill("2026-03-02")
    phone_page.get_by_label("Letzter Tag").fill("2026-03-03")
    phone_page.get_by_label("Hinweis").fill("Fieber, Montag wieder da")
    axe(phone_page)
    phone_page.get_by_role("button", name="Krankmeldung", exact=True).click()
    phone_page.get_by_text("Noch nicht bestätigt").wait_for()

    sign_in(page, family.teacher_7a.username)
    page.goto("/parents/absences/")
    page.get_by_text("Fieber, Montag wieder da").wait_for()
    page.get_by_role("button", name="Bestätigen").click()
    page.get_by_text("Bestätigt von").first.wait_for()

    phone_page.reload()
    phone_page.get_by_text("Bestätigt von").wait_for()
    assert "Noch nicht bestätigt" not in phone_page.content()
