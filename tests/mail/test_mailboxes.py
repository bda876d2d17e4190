"""One account's mailbox as a whole, against real Dovecot and Postfix: counted, copied
into a person's copy of their data, thinned by the retention rule, removed on erasure."""

from __future__ import annotations

import uuid
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone

from kreide.accounts.models import User
from kreide.mail import mailboxes
from kreide.privacy import access, services
from tests.mail.conftest import needs_servers
from tests.mail.test_webmail import deliver

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"
    settings.PRIVACY_EXPORT_DIR = tmp_path / "privacy"


def test_a_mailbox_is_counted_copied_thinned_and_removed(mail, world):
    teacher = world.teacher_7a
    subject = f"Elternabend {uuid.uuid4().hex[:6]}"
    deliver(mail, teacher, subject)
    assert mailboxes.count(teacher) == 1
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

    deliver(mail, teacher, subject)
    where = mailboxes.location(teacher)
    assert where.exists()
    services.erase_person(world.admin, teacher)  # committed: the mailbox goes after it
    assert not User.objects.filter(pk=teacher.pk).exists()
    assert not where.exists()
