import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "username;first_name;last_name;role;classes\n"
    "lotta.import;Lotta;Import;Schülerin;7a\n"
    'emil.import;Emil;Import;student;"7a;Chor"\n'
).encode()


def test_admin_imports_and_student_signs_in_with_the_slip(
    browser, page, sign_in, world, live_server
):
    sign_in(page, world.admin.username)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Schulverwaltung").click()
    page.get_by_role("link", name="CSV importieren").click()
    page.get_by_label("CSV-Datei").set_input_files(
        {"name": "schueler.csv", "mimeType": "text/csv", "buffer": CSV}
    )
    page.get_by_role("button", name="Prüfen und importieren").click()
    assert page.get_by_role("heading", name="Import abgeschlossen").is_visible()
    assert page.get_by_role("link", name="Zettel herunterladen (PDF)").is_visible()
    row = page.get_by_role("row").filter(has_text="lotta.import")
    password = row.locator("code.secret").inner_text().strip()
    assert len(password) == 14

    student_context = browser.new_context(base_url=live_server.url, locale="de-DE")
    student = student_context.new_page()
    try:
        sign_in(student, "lotta.import", password)
        student.wait_for_url("**/accounts/password/")
        assert student.get_by_text("Bitte wähle zuerst ein eigenes Passwort").is_visible()
        student.get_by_label("Aktuelles Passwort").fill(password)
        student.get_by_label("Neues Passwort", exact=True).fill("Lotta-mag-Mathe-7")
        student.get_by_label("Neues Passwort wiederholen").fill("Lotta-mag-Mathe-7")
        student.get_by_role("button", name="Passwort speichern").click()
        student.wait_for_url(f"{live_server.url}/")
        assert student.get_by_role("heading", level=1).inner_text().startswith("Hallo")
        assert student.get_by_role("heading", name="Meine Klassen und Gruppen").is_visible()
    finally:
        student_context.close()
