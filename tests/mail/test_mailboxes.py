"""One account's mailbox as a whole, against real Dovecot and Postfix: counted, copied
into a person's copy of their data, thinned by the retention rule, removed on erasure."""

from __future__ import annotations

import logging
import re
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kreide.accounts import services as accounts
from kreide.accounts.models import User
from kreide.mail import mailboxes, maildir, webmail
from kreide.mail.services import address_of
from kreide.privacy import access, retention, services
from tests.mail.conftest import free_base, needs_servers
from tests.mail.test_webmail import deliver

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"
    settings.PRIVACY_EXPORT_DIR = tmp_path / "privacy"


def listings_kept(user) -> int:
    """This process's kept inbox listings of the user's mailbox (kreide/mail/maildir.py)."""
    where = maildir.path(address_of(user))
    return sum(key[0] == where for key in list(maildir._kept))


def test_a_mailbox_is_counted_copied_thinned_and_removed(mail, world, client_for):
    teacher = world.teacher_7a
    subject = f"Elternabend {uuid.uuid4().hex[:6]}"
    deliver(mail, teacher, subject)
    assert mailboxes.count(teacher) == 1
    client_for(teacher).get(reverse("mail:inbox"))
    assert listings_kept(teacher) == 1
    assert [subject.encode() in m.content for m in mailboxes.mails(teacher)] == [True]

    services.request_copy(teacher, teacher)
    copy = services.process_next()
    names = zipfile.ZipFile(access.path_of(copy)).namelist()
    assert [name for name in names if name.startswith("mail/INBOX/")] != []

    tomorrow = timezone.now() + timedelta(days=1)
    assert mailboxes.delete_before(teacher, timezone.now() - timedelta(days=1)) == 0
    assert mailboxes.delete_before(teacher, tomorrow, dry_run=True) == 1
    assert mailboxes.count(teacher) == 1
    assert mailboxes.delete_before(teacher, tomorrow) == 1
    assert mailboxes.count(teacher) == 0
    assert listings_kept(teacher) == 0  # the subjects are not kept past the rule

    deliver(mail, teacher, subject)
    client_for(teacher).get(reverse("mail:inbox"))
    assert listings_kept(teacher) == 1
    where = mailboxes.location(teacher)
    assert where.exists()
    services.erase_person(world.admin, teacher)  # committed: the mailbox goes after it
    assert not User.objects.filter(pk=teacher.pk).exists()
    assert not where.exists()
    assert listings_kept(teacher) == 0


def test_the_mail_rule_deletes_old_mail_through_the_nightly_run(mail, world, caplog):
    teacher = world.teacher_7a
    old_subject, new_subject = (f"{word} {uuid.uuid4().hex[:6]}" for word in ("Alt", "Neu"))
    # A mail received 40 days ago (IMAP APPEND sets its arrival date), one received now.
    with webmail.mailbox(teacher) as client:
        client.append(
            "INBOX",
            f"From: parent@example.org\r\nSubject: {old_subject}\r\n\r\nalt".encode(),
            msg_time=timezone.now() - timedelta(days=40),
        )
    deliver(mail, teacher, new_subject)
    assert retention.run(world.school).counts["mail"] == 0  # no period: kept
    services.set_period(world.admin, world.school, "mail", 30)

    dry = retention.run(world.school, dry_run=True)
    assert dry.counts["mail"] == 1 and mailboxes.count(teacher) == 2
    with caplog.at_level(logging.WARNING, logger="kreide.privacy"):
        run = retention.run(world.school)

    assert run.counts["mail"] == 1
    left = [m.content for m in mailboxes.mails(teacher)]
    assert len(left) == 1 and new_subject.encode() in left[0]
    assert "not reached" not in caplog.text  # every account's mailbox was reached
    # Time travel: 31 days on, the mail received today has expired too.
    later = timezone.now() + timedelta(days=32)
    assert retention.run(world.school, now=later).counts["mail"] == 1
    assert mailboxes.count(teacher) == 0


def _new_student(world):
    user, _initial = accounts.create_user(
        world.admin,
        world.school,
        username=f"neu.{uuid.uuid4().hex[:6]}",
        first_name="Neu",
        last_name="Schüler",
        role="student",
    )
    return user


def test_a_new_account_asks_for_its_mailbox_and_folders(mail, world):
    assert world.student_7a in mailboxes.missing()  # made before: the start-up pass's work
    mailboxes.wanted()  # an earlier test's mark
    user = _new_student(world)
    # Not in the office's request: `kreide mail-start` is told and makes it (its own test).
    assert user in mailboxes.missing()
    assert mailboxes.wanted() and not mailboxes.wanted()
    assert mailboxes.create(mailboxes.missing(), None) >= 1
    assert user not in mailboxes.missing()
    with webmail.mailbox(user) as client:
        assert [f.name for f in webmail.folders(client)] == ["INBOX", *webmail.AUTOCREATED]


def test_the_start_up_pass_makes_every_missing_mailbox_once(mail, world):
    missing = mailboxes.missing()
    assert {world.student_7a, world.teacher_7a, world.other_student} <= set(missing)
    assert mailboxes.create(missing, None) == len(missing)
    assert mailboxes.missing() == []


def test_with_mail_down_an_account_is_made_and_its_mailbox_waits(mail, world, settings):
    settings.MAIL_PORT_BASE = free_base()  # configured, but nothing answers there
    user = _new_student(world)
    assert User.objects.filter(pk=user.pk).exists()
    assert mailboxes.create([user], None) == 0
    assert user in mailboxes.missing()


def test_the_folders_looked_for_are_those_dovecot_creates(mail):
    config = mail.mail.dovecot_conf.read_text()
    autocreated = re.findall(r"mailbox (\w+) \{[^}]*auto = subscribe", config)
    assert tuple(autocreated) == webmail.AUTOCREATED
