"""`kreide mail-start`: run the school e-mail, supervised.

Starts Kreide's mail service (the directory and policy Postfix and Dovecot ask, in this
process, not in the web workers), writes the servers' configuration and runs Dovecot and
Postfix. Once Dovecot runs, the mailboxes of accounts that have none yet are made (the
demo school's and the bench's accounts are made before mail runs), and again whenever the
web workers report new accounts. A server that exits
is started again after a backoff with jitter; the command itself only ends on
SIGTERM/Ctrl+C, so `kreide serve` never stops the pages for mail.
"""

import logging
import random
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from kreide.mail import demo_mail, lookup, mailboxes, process, webmail

logger = logging.getLogger(__name__)


def _alive(process) -> bool:
    return process is not None and process.poll() is None


class Command(BaseCommand):
    help = "Run Postfix and Dovecot with Kreide as their directory, supervised."

    def add_arguments(self, parser):
        parser.add_argument("--check-every", type=float, default=5.0)

    def handle(self, *args, **options):
        reason = process.missing()
        if reason:
            raise CommandError(f"{reason}: e-mail stays off, everything else works.")
        self.stopping = False

        def stop(*_):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        mail = process.layout()
        service = lookup.start(mail.host, mail.ports.socketmap, mail.ports.policy, mail.ports.auth)
        process.write_config(mail)
        servers = process.MailServers(mail)
        failures = {"OpenDKIM": 0, "Dovecot": 0, "Postfix": 0}
        demo_sent = mailboxes_made = False
        self.stdout.write(
            f"E-mail runs: IMAP {mail.host}:{mail.ports.imap}, submission "
            f"{mail.ports.submission}, inbound SMTP {mail.ports.smtp}."
        )
        try:
            while not self.stopping:
                for name, running, start in (
                    ("OpenDKIM", _alive(servers.opendkim), servers.start_opendkim),
                    ("Dovecot", _alive(servers.dovecot), servers.start_dovecot),
                    ("Postfix", servers.postfix_running(), servers.start_postfix),
                ):
                    if running:
                        continue
                    try:
                        start()
                        failures[name] = 0
                    except (RuntimeError, OSError) as error:
                        failures[name] += 1
                        logger.error(f"{name} did not start", extra={"error": str(error)})
                        self.wait(min(300, 2 ** failures[name]) * random.uniform(0.5, 1.0))
                servers.refresh_dkim()
                # Once at the start, then whenever accounts were created (`wanted`).
                if _alive(servers.dovecot) and (not mailboxes_made or mailboxes.wanted()):
                    mailboxes_made = self.make_mailboxes()
                # After the mailboxes: the bench starts once the demo mails are out.
                if mailboxes_made and not demo_sent and servers.postfix_running():
                    demo_sent = self.send_demo_mail(mail)
                self.wait(options["check_every"])
        finally:
            servers.stop()
            service.stop()

    def make_mailboxes(self) -> bool:
        """The missing mailboxes (nothing to do: one look at the disk per account); False
        when Dovecot did not take all of them (tried again on the next round)."""
        missing = mailboxes.missing()
        if not missing:
            return True
        with tqdm(total=len(missing), unit="mailbox", disable=None, file=self.stderr) as bar:
            made = mailboxes.create(missing, bar.update)
        self.stdout.write(f"{made} of {len(missing)} mailboxes made.")
        return made == len(missing)

    def send_demo_mail(self, mail) -> bool:
        """The demo school's mails, once; a failure is logged and tried again later."""
        try:
            demo_mail.deliver_once(mail)
        except (webmail.MailUnavailable, webmail.SendRefused) as error:
            logger.error("demo mail not sent", extra={"error": str(error)})
            return False
        return True

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)
