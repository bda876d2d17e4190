"""The webmail in Chromium against real Postfix and Dovecot: a student writes from a phone
with the directory's completion, the teacher sees the unread count, reads, downloads an
attachment and replies."""

from __future__ import annotations

import pytest

from kreide.mail.services import address_of
from tests.conftest import PHONE
from tests.mail.conftest import delivered, needs_servers
from tests.mail.test_webmail import deliver

pytestmark = [needs_servers, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_read_reply_and_attachment(mail, world, open_page, sign_in, axe):
    world.teacher_7a.last_name = "Lindgren"
    world.teacher_7a.save()
    student = open_page(PHONE)
    sign_in(student, world.student_7a.username)
    student.goto("/mail/compose/")
    student.get_by_label("An", exact=True).fill("Lindg")
    option = student.locator("#mail-directory option").first
    option.wait_for(state="attached")
    assert option.get_attribute("value") == address_of(world.teacher_7a)
    student.get_by_label("An", exact=True).fill(address_of(world.teacher_7a))
    student.get_by_label("Betreff").fill("Referat Mittwoch")
    student.get_by_label("Text").fill("Darf ich das Referat am Mittwoch halten?")
    student.get_by_role("button", name="Senden").click()
    student.get_by_text("Die E-Mail wurde gesendet.").wait_for()
    assert delivered(mail, world.teacher_7a, "Referat Mittwoch")
    deliver(mail, world.teacher_7a, "Zeugnis mit Anhang", attachment=b"%PDF-1.4 anhang")

    teacher = open_page()
    sign_in(teacher, world.teacher_7a.username)
    teacher.goto("/")
    nav_mail = teacher.get_by_role("link", name="E-Mail", exact=False).first
    assert nav_mail.locator(".count").inner_text().strip().startswith("2")
    nav_mail.click()
    axe(teacher)
    teacher.get_by_role("link", name="Zeugnis mit Anhang").click()
    with teacher.expect_download() as download:
        teacher.get_by_role("link", name="Zeugnis.pdf").click()
    assert download.value.path().read_bytes() == b"%PDF-1.4 anhang"
    teacher.goto("/mail/")
    teacher.get_by_role("link", name="Referat Mittwoch").click()
    teacher.get_by_text("Darf ich das Referat am Mittwoch halten?").wait_for()
    axe(teacher)
    teacher.get_by_role("link", name="Antworten").click()
    assert teacher.get_by_label("Betreff").input_value() == "Re: Referat Mittwoch"
    teacher.get_by_label("Text").fill("Ja, gern.")
    teacher.get_by_role("button", name="Senden").click()
    teacher.get_by_text("Die E-Mail wurde gesendet.").wait_for()

    assert delivered(mail, world.student_7a, "Re: Referat Mittwoch")
    student.goto("/mail/")
    student.get_by_role("link", name="Re: Referat Mittwoch").click()
    student.get_by_text("Ja, gern.").wait_for()
