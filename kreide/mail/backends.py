"""Kreide's own mails (password help, digests) through the school's Postfix when it runs.

Used when KREIDE_EMAIL_HOST is not set: with Kreide's mail servers up, mails go to
Postfix's port for Kreide's own mail (loopback only); otherwise into the outbox folder,
as before, so nothing is lost while mail is not set up.
"""

from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from kreide.mail import health, process


class LocalServerBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        mail = process.layout()
        if health.configured() and process.answers(mail.host, mail.ports.system):
            backend = SMTPBackend(
                host=mail.host,
                port=mail.ports.system,
                use_tls=False,
                fail_silently=self.fail_silently,
            )
        else:
            backend = FileBackend(fail_silently=self.fail_silently)
        return backend.send_messages(email_messages)
