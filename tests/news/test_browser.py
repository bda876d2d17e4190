"""A teacher writes a parent letter that asks for a confirmation; a parent on a phone
confirms it with a reply; the teacher sees who confirmed and who is missing."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_teacher_posts_a_letter_parent_confirms_teacher_sees_who_is_missing(
    family, page, phone_page, sign_in, axe
):
    sign_in(page, family.teacher_7a.username)
    page.goto("/news/")
    page.get_by_role("link", name="Nachricht schreiben").click()
    page.get_by_label("Titel").fill("Ausflug in den Zoo")
    page.get_by_label("Text").fill("Wir fahren am Freitag mit dem Bus.")
    page.get_by_label("Empfänger").select_option(label="Eltern von Klassen und Gruppen")
    page.get_by_label("7a").check()
    page.get_by_label("Eltern bestätigen die Kenntnisnahme").check()
    page.get_by_label("Antwortmöglichkeiten").fill("Mein Kind fährt mit\nMein Kind bleibt hier")
    axe(page)
    page.get_by_role("button", name="Veröffentlichen").click()
    page.get_by_text("Die Nachricht ist veröffentlicht.").wait_for()

    sign_in(phone_page, family.second_parent.username)
    phone_page.goto("/")
    phone_page.get_by_role("link", name="Ausflug in den Zoo").first.click()
    phone_page.get_by_label("Mein Kind fährt mit").check()
    axe(phone_page)
    phone_page.get_by_role("button", name="Zur Kenntnis genommen für").click()
    phone_page.get_by_text("Vielen Dank").wait_for()
    phone_page.get_by_text(f"Bestätigt von {family.second_parent.get_full_name()}").wait_for()

    page.get_by_role("link", name="Bestätigungen").click()
    page.get_by_text("1 bestätigt", exact=True).wait_for()
    page.get_by_text("1 fehlt", exact=True).wait_for()
    row = page.get_by_role("row", name=family.student_7a.last_name)
    assert family.second_parent.get_full_name() in row.inner_text()
    assert "Mein Kind fährt mit" in row.inner_text()
    missing = page.get_by_role("row", name=family.classmate_7a.last_name)
    assert "Nicht bestätigt" in missing.inner_text()
    # The one missing has no parent account: nobody to remind.
    assert page.get_by_role("button", name="Eltern erinnern").count() == 0
