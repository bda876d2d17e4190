"""The whole round in a real browser: post with a worksheet, download, upload, feedback."""

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from kreide.tasks.models import Submission, Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_task_round_trip(page, browser, live_server, sign_in, world, tmp_path):
    worksheet = tmp_path / "Arbeitsblatt Brüche.pdf"
    worksheet.write_bytes(b"%PDF-1.4\n" + b"Bruchrechnung " * 2000)
    solution = tmp_path / "Lösung.pdf"
    solution.write_bytes(b"%PDF-1.4\n" + b"3/4 + 1/8 = 7/8\n" * 60_000)  # about 1 MB

    # The teacher posts a task with a worksheet, uploaded before the task is saved.
    sign_in(page, world.teacher_7a.username)
    page.goto("/tasks/new/")
    page.get_by_label("Titel").fill("Arbeitsblatt Bruchrechnung")
    page.get_by_label("Beschreibung").fill("Bearbeite **alle** Aufgaben.")
    page.get_by_label("7a").check()
    due = timezone.localtime() + timedelta(days=2)
    page.get_by_label("Fällig").fill(due.strftime("%Y-%m-%dT%H:%M"))
    page.locator("#worksheets").set_input_files(str(worksheet))
    page.locator(".upload-item.done").wait_for()
    page.get_by_role("button", name="Aufgabe speichern").click()
    page.get_by_text("Die Aufgabe wurde gespeichert.").wait_for()
    assert page.get_by_role("link", name="Arbeitsblatt Brüche.pdf").is_visible()

    # The student downloads the worksheet and uploads a solution with a progress bar.
    context = browser.new_context(base_url=live_server.url, locale="de-DE")
    context.set_default_timeout(15_000)
    student = context.new_page()
    sign_in(student, world.student_7a.username)
    student.goto("/tasks/")
    student.get_by_role("link", name="Arbeitsblatt Bruchrechnung").click()
    assert student.locator(".task-description strong").inner_text() == "alle"
    with student.expect_download() as download:
        student.get_by_role("link", name="Arbeitsblatt Brüche.pdf").click()
    assert download.value.suggested_filename == "Arbeitsblatt Brüche.pdf"
    assert Path(download.value.path()).read_bytes() == worksheet.read_bytes()
    student.locator("#solution-files").set_input_files(str(solution))
    progress = student.locator(".upload-item progress")
    progress.wait_for()
    student.locator(".upload-item.done").wait_for()
    assert progress.get_attribute("value") == "100"
    assert student.locator(".upload-item.done .upload-status").inner_text() == "Hochgeladen"
    # Uploaded is not yet handed in: the student sees what will be, and hands it in.
    draft = student.locator(".submission-files")
    draft.get_by_role("link", name="Lösung.pdf").wait_for()
    assert student.get_by_text("Das wird abgegeben").is_visible()
    student.get_by_role("button", name="Abgeben", exact=True).click()
    student.get_by_text("Abgegeben. Deine Quittung steht unten.").wait_for()
    submission = Submission.objects.for_school(world.school).get()
    assert student.locator(".receipt-code").inner_text() == submission.receipt_code
    sha256 = submission.files.get().blob.sha256
    assert not student.get_by_text(sha256).is_visible()  # folded away, one click off
    student.get_by_text("Vollständige Prüfsumme (SHA-256)").click()
    assert student.get_by_text(sha256).is_visible()
    assert student.get_by_text(submission.receipt).is_visible()

    # The teacher sees the submission and returns feedback.
    page.goto(f"/tasks/{submission.task_id}/")
    row = page.get_by_role("row").filter(has_text=world.student_7a.last_name)
    row.get_by_role("link", name="Öffnen").click()
    page.get_by_label("Rückmeldung").fill("Sehr gut gelöst, weiter so!")
    page.get_by_label("Note").fill("1-")
    page.get_by_role("button", name="Rückmeldung speichern").click()
    page.get_by_text("Ihre Rückmeldung wurde gespeichert.").wait_for()

    # The student sees it.
    student.reload()
    feedback = student.locator("#feedback")
    assert "Sehr gut gelöst, weiter so!" in feedback.inner_text()
    assert "1-" in feedback.inner_text()
    context.close()


def test_upload_survives_a_dropped_connection(page, sign_in, world, make_task, tmp_path):
    task = make_task()
    solution = tmp_path / "Erlkönig.txt"
    solution.write_bytes("Wer reitet so spät durch Nacht und Wind?\n".encode() * 200_000)
    dropped = []

    def drop_first_patch(route):
        if route.request.method == "PATCH" and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/uploads/**", drop_first_patch)
    sign_in(page, world.student_7a.username)
    page.goto(f"/tasks/{task.pk}/")
    page.locator("#solution-files").set_input_files(str(solution))
    page.locator(".upload-item.done").wait_for()
    page.locator(".submission-files").get_by_role("link", name="Erlkönig.txt").wait_for()
    assert dropped, "the first chunk was cut off"
    submitted = task.submissions.get().files.get()
    assert submitted.blob.size == solution.stat().st_size
    assert submitted.blob.sha256 == hashlib.sha256(solution.read_bytes()).hexdigest()


def test_teacher_picks_students_by_search_and_chips_on_a_phone(
    phone_page, sign_in, axe, world, make_user
):
    page = phone_page
    for n in range(30):
        make_user(world.school, groups=(world.class_7a,), last_name=f"Klasse{n:02d}")
    amsel = make_user(world.school, groups=(world.class_7a,), last_name="Amsel", first_name="Ida")
    drossel = make_user(world.school, groups=(world.class_7a,), last_name="Drossel")
    sign_in(page, world.teacher_7a.username)
    page.goto("/tasks/new/")
    page.get_by_label("Titel").fill("Referat Vögel")
    page.get_by_label("7a").check()
    due = timezone.localtime() + timedelta(days=2)
    page.get_by_label("Fällig").fill(due.strftime("%Y-%m-%dT%H:%M"))
    search = page.get_by_label("Nach Namen suchen")
    search.fill("amse")
    page.get_by_label("Amsel, Ida").check()
    search.fill("drossel")
    page.get_by_label(f"Drossel, {drossel.first_name}").check()
    chips = page.locator("[data-picker-chips] button")
    assert chips.count() == 2
    axe(page)
    page.get_by_role("button", name=f"Drossel, {drossel.first_name} (entfernen)").click()
    assert chips.count() == 1
    assert not page.get_by_label(f"Drossel, {drossel.first_name}").is_checked()
    page.get_by_role("button", name="Aufgabe speichern").click()
    page.get_by_text("Die Aufgabe wurde gespeichert.").wait_for()
    task = Task.objects.for_school(world.school).get()
    assert list(task.students.all()) == [amsel]
