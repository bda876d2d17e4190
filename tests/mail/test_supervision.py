"""`kreide mail-start` as `kreide serve` runs it: its own process with Kreide's mail
service, Dovecot and Postfix; a crashed Dovecot is started again, no web worker needed."""

from __future__ import annotations

import imaplib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from kreide.accounts import services as accounts
from kreide.mail import mailboxes, process
from kreide.mail.services import address_of
from tests.conftest import PASSWORD
from tests.mail.conftest import free_base, needs_servers, wait_until
from tests.transfer.conftest import pg_url

pytestmark = [needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_mail_start_supervises_the_servers(world, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the command runs in its own process: it needs the PostgreSQL test database")
    root = Path(tempfile.mkdtemp(prefix="kreide-mail-start-"))
    root.chmod(0o755)
    mail = process.layout(root / "mail", base=free_base())
    env = {
        **os.environ,
        "KREIDE_DATABASE_URL": pg_url(connection.settings_dict["NAME"]),
        "KREIDE_MAIL_DIR": str(mail.root),
        "KREIDE_MAIL_PORT_BASE": str(mail.ports.base),
    }
    command = subprocess.Popen(
        [sys.executable, "-m", "kreide.cli", "mail-start", "--check-every", "0.5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: process.answers(mail.host, mail.ports.submission))
        # The accounts made before mail ran have their mailboxes before anyone opens them.
        settings.MAIL_DIR, settings.MAIL_PORT_BASE = mail.root, mail.ports.base
        assert wait_until(lambda: not mailboxes.missing())
        # An account made meanwhile by the school office gets its mailbox from here too.
        newcomer, _initial = accounts.create_user(
            world.admin,
            world.school,
            username="neu.schueler",
            first_name="Neu",
            last_name="Schüler",
            role="student",
        )
        assert wait_until(lambda: newcomer not in mailboxes.missing())
        client = imaplib.IMAP4(mail.host, mail.ports.imap, timeout=10)
        client.login(address_of(world.student_7a), PASSWORD)
        client.logout()

        master = int((mail.root / "run" / "dovecot" / "master.pid").read_text())
        os.kill(master, signal.SIGKILL)
        assert wait_until(lambda: not process.answers(mail.host, mail.ports.imap), 10)
        assert wait_until(lambda: process.answers(mail.host, mail.ports.imap))
        client = imaplib.IMAP4(mail.host, mail.ports.imap, timeout=10)
        client.login(address_of(world.classmate_7a), PASSWORD)
        client.logout()

        # Postfix's master gone: start-fg's script ends with it, `postfix status` agrees,
        # and Postfix is started again.
        pid_file = mail.root / "postfix-queue" / "pid" / "master.pid"

        def master_pid() -> int | None:
            try:  # rewritten while Postfix starts
                return int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return None

        master = master_pid()
        os.kill(master, signal.SIGKILL)
        assert wait_until(lambda: not process.answers(mail.host, mail.ports.submission), 10)
        assert wait_until(
            lambda: (
                master_pid() not in (None, master)
                and process.answers(mail.host, mail.ports.submission)
            )
        )
    finally:
        command.send_signal(signal.SIGTERM)
        command.wait(timeout=60)
    assert not process.answers(mail.host, mail.ports.imap)
    assert not process.answers(mail.host, mail.ports.submission)
    process.remove(mail)
    root.rmdir()
