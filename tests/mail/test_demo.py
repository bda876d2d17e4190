"""The demo school's mailboxes get mail once the servers run."""

from __future__ import annotations

import pytest

from kreide.accounts.models import User
from kreide.mail import demo_mail
from kreide.schools.models import School
from tests.mail.conftest import delivered, needs_servers

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_demo_school_gets_mail_once(mail, make_group, make_user):
    school = School.objects.create(name="Demo", slug="demo")
    class_5a = make_group(school, "5a", grade=5)
    teacher = make_user(school, User.Role.TEACHER, groups=(class_5a,))
    student = make_user(school, groups=(class_5a,))
    make_user(school, User.Role.SCHOOL_ADMIN)
    (mail.mail.root / "demo-mail-sent").unlink(missing_ok=True)
    assert demo_mail.deliver_once(mail.mail) == 3
    assert delivered(mail, teacher, "Willkommen im neuen Schuljahr")
    assert delivered(mail, student, "Klasse 5a: Wandertag am Freitag")
    assert delivered(mail, teacher, "Frage zum Wandertag")
    assert demo_mail.deliver_once(mail.mail) == 0
