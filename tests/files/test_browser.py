"""In the browser: upload a whole folder, move a file, delete it and restore it."""

import pytest
from playwright.sync_api import expect

from kreide.files import services
from kreide.files.models import Node

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_folder_move_delete_restore(page, sign_in, make_user, school, tmp_path):
    user = make_user(school)
    root = services.root_of(services.personal_space(user))
    folder = tmp_path / "Referat"
    (folder / "Bilder").mkdir(parents=True)
    (folder / "text.txt").write_text("Gliederung")
    (folder / "Bilder" / "bild.png").write_bytes(b"\x89PNG\r\n\x1a\n")

    sign_in(page, user.username)
    page.goto(f"/files/folder/{root.pk}/")
    page.get_by_label("Ordner hochladen").set_input_files(folder)
    expect(page.get_by_role("link", name="Referat")).to_be_visible()

    page.get_by_role("link", name="Referat").click()
    expect(page.get_by_role("link", name="Bilder")).to_be_visible()
    assert Node.unscoped.get(name="bild.png").parent.name == "Bilder"

    page.get_by_text("Aktionen für text.txt").click()
    actions = page.locator("details[open]")
    actions.get_by_label("Verschieben nach").select_option(label="Meine Dateien")
    actions.get_by_role("button", name="Verschieben", exact=True).click()
    expect(page.get_by_text("Verschoben.")).to_be_visible()
    expect(page.get_by_role("link", name="text.txt")).to_have_count(0)

    page.get_by_role("link", name="Meine Dateien").click()
    page.get_by_text("Aktionen für text.txt").click()
    page.locator("details[open]").get_by_role("button", name="Löschen").click()
    expect(page.get_by_text("In den Papierkorb gelegt.")).to_be_visible()
    expect(page.get_by_role("link", name="text.txt")).to_have_count(0)

    page.get_by_role("link", name="Papierkorb").first.click()
    page.get_by_role("button", name="text.txt wiederherstellen").click()
    expect(page.get_by_text("„text.txt“ ist wieder da.")).to_be_visible()
    expect(page.get_by_role("link", name="text.txt")).to_be_visible()
    assert services.child(root, "text.txt").blob.size == len("Gliederung")
