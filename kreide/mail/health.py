"""Is the school e-mail up? Real checks: Dovecot's IMAP and Postfix's submission greet."""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from kreide.core import health
from kreide.mail import process


def configured() -> bool:
    """Kreide runs mail here: not switched off and `kreide mail-config` has written it."""
    return settings.MAIL != "off" and _dovecot_conf(settings.MAIL_DIR).exists()


@lru_cache(maxsize=8)
def _dovecot_conf(mail_dir: Path | str) -> Path:
    """Where `kreide mail-config` writes Dovecot's configuration, worked out once per mail
    directory: the navigation asks on every page (~80 Python calls each time)."""
    return process.layout(mail_dir).dovecot_conf


def problem() -> str | None:
    """None when mail works, "not configured" without mail servers, else what is down."""
    if not configured():
        return "not configured"
    mail = process.layout()
    down = [
        name
        for name, port in (("imap", mail.ports.imap), ("smtp", mail.ports.submission))
        if not process.answers(mail.host, port, timeout=2)
    ]
    return f"{' and '.join(down)} down" if down else None


def check() -> str | None:
    """The school e-mail's servers when Kreide runs them, else how Kreide's own mails leave."""
    found = problem()
    if found != health.NOT_CONFIGURED:
        return found
    if not settings.EMAIL_HOST:
        return health.NOT_CONFIGURED  # mail only goes to files in DATA_DIR: nothing is sent
    with socket.create_connection((settings.EMAIL_HOST, settings.EMAIL_PORT), timeout=3):
        return None
