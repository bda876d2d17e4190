"""Mail fixtures: real Postfix and Dovecot on free loopback ports, asking Kreide's mail
service (running in this test process) for logins, addresses, lists and the policy."""

from __future__ import annotations

import imaplib
import random
import smtplib
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

from kreide.mail import lookup, process
from kreide.mail.services import address_of
from tests.conftest import PASSWORD

needs_servers = pytest.mark.skipif(
    bool(process.missing()), reason=process.missing() or "mail servers available"
)


def free_base() -> int:
    """A port base whose every mail port is free on loopback now (several people run
    tests on one machine, so never the well-known ports)."""
    for _ in range(50):
        base = random.randrange(20000, 60000, 100)
        ports = process.Ports(base)
        wanted = [getattr(ports, name) for name in dir(process.Ports) if not name.startswith("_")]
        try:
            for port in [p for p in wanted if isinstance(p, int)]:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port range for the mail servers")


class KreideSide:
    """Kreide's mail service in this test process; a test may stop and restart it."""

    def __init__(self, mail: process.MailLayout):
        self.mail = mail
        self.service: lookup.LookupService | None = None

    def start(self) -> None:
        ports = self.mail.ports
        self.service = lookup.start(self.mail.host, ports.socketmap, ports.policy, ports.auth)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None


@pytest.fixture(scope="session")
def _mail_session(django_db_setup, django_db_blocker):
    root = Path(tempfile.mkdtemp(prefix="kreide-mail-"))
    root.chmod(0o755)  # Dovecot's unprivileged login processes pass through it
    mail = process.layout(root / "mail", base=free_base())
    kreide_side = KreideSide(mail)
    kreide_side.start()
    with django_db_blocker.unblock():  # the DKIM domains are read from the schools
        servers = process.start(mail, auth_failure_delay="0")
    servers.kreide_side = kreide_side
    yield servers
    servers.stop()
    kreide_side.stop()
    process.remove(mail)
    root.rmdir()


@pytest.fixture
def mail_servers(_mail_session):
    """The running servers and Kreide's side of them, all running when a test starts."""
    if _mail_session.kreide_side.service is None:
        _mail_session.kreide_side.start()
    return _mail_session


@pytest.fixture
def mail(mail_servers, settings):
    """The running servers, with Dovecot's remembered logins of earlier tests forgotten."""
    settings.MAIL_DIR = mail_servers.mail.root
    settings.MAIL_PORT_BASE = mail_servers.mail.ports.base
    if mail_servers.dovecot is None or mail_servers.dovecot.poll() is not None:
        mail_servers.start_dovecot()
    subprocess.run(
        [process.DOVEADM, "-c", str(mail_servers.mail.dovecot_conf), "auth", "cache", "flush"],
        capture_output=True,
        check=True,
    )
    return mail_servers


def imap_login(mail, login: str, password: str = PASSWORD) -> imaplib.IMAP4:
    client = imaplib.IMAP4(mail.mail.host, mail.mail.ports.imap, timeout=10)
    client.login(login, password)
    return client


def submit(mail, user, to: list[str], subject: str, password: str = PASSWORD, sender=None):
    message = EmailMessage()
    message["From"] = sender or address_of(user)
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content("Hallo!")
    with smtplib.SMTP(mail.mail.host, mail.mail.ports.submission, timeout=10) as smtp:
        smtp.login(address_of(user), password)
        return smtp.send_message(message, from_addr=sender or address_of(user), to_addrs=to)


def wait_until(check, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def delivered(mail, user, subject: str, wait: float = 20.0) -> bool:
    """Is a mail with this subject in the user's INBOX? Read over IMAP as the user; polls
    (bounded) because delivery is asynchronous."""
    deadline = time.monotonic() + wait
    while True:
        client = imap_login(mail, address_of(user))
        client.select("INBOX", readonly=True)
        _status, data = client.search(None, "SUBJECT", f'"{subject}"')
        client.logout()
        if data[0].split():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


@dataclass
class ImapTraffic:
    """The IMAP connections opened and commands sent in this test (each command as its
    name, or its first two words: `UID FETCH`)."""

    connections: list[tuple] = field(default_factory=list)
    commands: list[list[bytes]] = field(default_factory=list)

    def clear(self) -> None:
        self.connections.clear()
        self.commands.clear()


@pytest.fixture
def imap_traffic(monkeypatch) -> ImapTraffic:
    traffic = ImapTraffic()
    connect, send = imaplib.IMAP4.open, imaplib.IMAP4.send

    def counted_open(self, *args, **kwargs):
        traffic.connections.append(args)
        return connect(self, *args, **kwargs)

    def counted_send(self, data: bytes):
        if data.startswith(self.tagpre):  # a command's first line, not a literal
            traffic.commands.append(data.split()[1:3])
        return send(self, data)

    monkeypatch.setattr(imaplib.IMAP4, "open", counted_open)
    monkeypatch.setattr(imaplib.IMAP4, "send", counted_send)
    return traffic
