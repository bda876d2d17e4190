"""Is the school e-mail up? Real checks: Dovecot's IMAP and Postfix's submission greet."""

from __future__ import annotations

from django.conf import settings

from kreide.mail import process


def configured() -> bool:
    """Kreide runs mail here: not switched off and `kreide mail-config` has written it."""
    return settings.MAIL != "off" and process.layout().dovecot_conf.exists()


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
