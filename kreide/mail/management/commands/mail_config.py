"""`kreide mail-config`: write Postfix's and Dovecot's configuration for this Kreide."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from kreide.mail import process


class Command(BaseCommand):
    help = "Write the configuration of Postfix and Dovecot (Kreide as their directory)."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default="", help="Mail directory (default KREIDE_MAIL_DIR).")
        parser.add_argument(
            "--port-base", type=int, default=0, help="Default KREIDE_MAIL_PORT_BASE."
        )

    def handle(self, *args, **options):
        mail = process.layout(
            Path(options["dir"]) if options["dir"] else None, base=options["port_base"] or None
        )
        process.write_config(mail)
        ports = mail.ports
        self.stdout.write(
            f"Wrote {mail.dovecot_conf} and {mail.postfix_dir}/main.cf, master.cf.\n"
            f"IMAP {mail.host}:{ports.imap}, submission {ports.submission}, inbound SMTP "
            f"{ports.smtp}, Kreide's own mails {ports.system}; Kreide answers Postfix on "
            f"{ports.socketmap} (socketmap) and {ports.policy} (policy), Dovecot on {ports.auth}."
        )
        if mail.dkim_record.exists():
            self.stdout.write(
                "DKIM: publish this TXT record as "
                f"{settings.MAIL_DKIM_SELECTOR}._domainkey.<school domain> (docs/mail-dns.md):\n"
                + mail.dkim_record.read_text()
            )
