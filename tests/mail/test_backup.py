"""The restore drill with mail: a mail deleted after the backup is back after the restore."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from kreide.mail import process
from kreide.mail.services import address_of
from tests.mail.conftest import delivered, needs_servers, submit
from tests.transfer.test_backup import _run

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_mail_survives_backup_and_restore(mail, world, tmp_path):
    submit(mail, world.teacher_7a, [address_of(world.student_7a)], "Sicherung")
    assert delivered(mail, world.student_7a, "Sicherung")
    data_dir = tmp_path / "data"  # the drill's own embedded database beside the live mail
    data_dir.mkdir()
    sqlite3.connect(data_dir / "kreide.sqlite3").close()
    deployment = {"KREIDE_DATA_DIR": str(data_dir), "KREIDE_MAIL_DIR": str(mail.mail.root)}
    backup = _run("backup.sh", str(tmp_path / "backups"), env=deployment)
    assert backup.returncode == 0, backup.stderr
    backup_dir = Path(backup.stdout.strip())
    assert (
        "/cur/" in (backup_dir / "SHA256SUMS").read_text()
        or "/new/" in (backup_dir / "SHA256SUMS").read_text()
    )

    doveadm = [process.DOVEADM, "-c", str(mail.mail.dovecot_conf)]
    address = address_of(world.student_7a)
    subprocess.run([*doveadm, "expunge", "-u", address, "mailbox", "INBOX", "all"], check=True)
    assert not delivered(mail, world.student_7a, "Sicherung", wait=0)

    mail.stop_dovecot()
    try:
        restore = _run("restore.sh", "--force", str(backup_dir), env=deployment)
        assert restore.returncode == 0, restore.stderr
    finally:
        mail.start_dovecot()
    assert delivered(mail, world.student_7a, "Sicherung", wait=0)
