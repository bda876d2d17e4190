"""A student asks for a copy of their data, watches it being prepared and downloads it;
the school office sees what an erasure removes before confirming it."""

import zipfile

import pytest

from kreide.privacy import services
from kreide.privacy.models import AccessExport

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_student_downloads_a_copy_of_their_data(world, hand_in, page, sign_in, axe, tmp_path):
    hand_in(world.student_7a, b"mein Aufsatz")
    sign_in(page, world.student_7a.username)
    page.get_by_role("link", name="Meine Daten").click()
    page.get_by_role("button", name="Kopie anfordern").click()
    page.get_by_text("wartet").wait_for()
    axe(page)
    services.process_next()  # what the access-exports worker does
    # The page asks again by itself while the copy is prepared; then the link appears.
    link = page.get_by_role("link", name="ZIP herunterladen")
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "kopie.zip"
    download.value.save_as(saved)
    names = zipfile.ZipFile(saved).namelist()
    assert "daten/tasks.Submission.json" in names
    assert any(name.endswith("aufsatz.txt") for name in names)
    assert AccessExport.objects.for_school(world.school).get().state == "ready"


def test_the_office_sees_what_an_erasure_removes_before_confirming(
    world, hand_in, page, sign_in, axe
):
    hand_in(world.student_7a, b"mein Aufsatz")
    sign_in(page, world.admin.username)
    page.goto(f"/accounts/admin/users/{world.student_7a.pk}/")
    page.get_by_role("link", name="Datenschutz: Kopie der Daten, Löschung").click()
    page.get_by_role("link", name="Diese Person löschen").click()
    page.get_by_text("vollständig löschen?").wait_for()
    assert "1 × " in page.content()
    axe(page)
    page.get_by_role("button", name="Unwiderruflich löschen").click()
    page.get_by_text("Die Person wurde gelöscht.").wait_for()
    assert not type(world.student_7a).objects.filter(pk=world.student_7a.pk).exists()
