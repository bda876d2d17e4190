"""What one webmail connection costs Dovecot, counted exactly: IMAP commands, logins Kreide's
mail service is asked, Dovecot processes spawned, and Dovecot's CPU.

    .venv/bin/python bench/mail/connections.py --database kreide_bench_mail -n 16

Runs against a database with the demo school (`kreide seed-demo`), Kreide's mail service in
this process and Dovecot on --port-base (own directory; stopped by PID at the end). Students
not seen before take, in turn, the mail programs' port (a new imap-login and imap process
per connection) and the webmail's own port (processes reused), interleaved one by one, in
the steps of a morning: the dashboard's unread count (a STATUS: the first connection ever,
which creates the mailbox), the inbox's first opening (LIST-STATUS: creates the folders),
the inbox again and the unread count again. With --made, each student's mailbox is first
made as a new account's is now (`mailboxes.create`: at account creation or by `kreide
mail-start`, not in the morning) and that step is counted too. Processes spawned:
Dovecot's master process traced by strace (clone/fork). CPU: Dovecot's whole tree, exited
children included (their parents' cutime/cstime, 10 ms ticks, so the mean over -n
students is the figure).
"""

from __future__ import annotations

import argparse
import imaplib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="kreide_bench_mail")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--port-base", type=int, default=43000)
    parser.add_argument("-n", type=int, default=16, help="students per port")
    parser.add_argument(
        "--made", action="store_true", help="mailboxes made beforehand, as for new accounts"
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kreide-bench-connections-"))
    root.chmod(0o755)  # Dovecot's unprivileged login processes pass through it
    os.environ.update(
        KREIDE_DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        KREIDE_REDIS_URL=args.redis_url,
        KREIDE_MAIL="external",
        KREIDE_MAIL_PORT_BASE=str(args.port_base),
        KREIDE_MAIL_DIR=str(root / "mail"),
    )
    import django

    django.setup()
    import psutil
    from django.core.cache import cache

    from kreide.accounts.models import User
    from kreide.mail import lookup, mailboxes, process, services, webmail

    asked: list[str] = []
    authenticate = services.authenticate_client

    def counted_authenticate(login: str, *rest):
        asked.append(login)
        return authenticate(login, *rest)

    services.authenticate_client = counted_authenticate
    commands: list[str] = []
    command = imaplib.IMAP4._command

    def counted_command(self, name, *rest):
        commands.append(name)
        return command(self, name, *rest)

    imaplib.IMAP4._command = counted_command

    mail = process.layout()
    service = lookup.start(mail.host, mail.ports.socketmap, mail.ports.policy, mail.ports.auth)
    process.write_config(mail, auth_failure_delay="0")
    servers = process.MailServers(mail)
    servers.start_dovecot()
    master = psutil.Process(servers.dovecot.pid)
    traced = root / "forks.strace"
    strace = subprocess.Popen(
        ["strace", "-qq", "-e", "trace=clone,clone3,fork,vfork", "-o", str(traced)]
        + ["-p", str(master.pid)]
    )
    time.sleep(1)

    def dovecot_cpu() -> float:
        times = master.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in master.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.NoSuchProcess:
                continue
        return total

    def forks() -> int:
        if not traced.exists():
            return 0
        # Only the calls that start a process (strace also notes each SIGCHLD).
        return sum(1 for line in traced.open() if line.startswith(("clone", "fork", "vfork")))

    def unread(user: User) -> None:
        cache.delete(webmail.unread_key(user))  # measured: the STATUS behind a missing count
        webmail.unread_count(user)

    def inbox(user: User) -> None:
        with webmail.mailbox(user) as client:
            webmail.folders(client)
            webmail.page(client, "INBOX", 1)

    def make(user: User) -> None:
        mailboxes.create([user], None)

    imap_port, webmail_port = mail.ports.imap, mail.ports.webmail
    students = list(
        User.objects.filter(role="student", is_active=True, school__isnull=False).order_by(
            "username"
        )[: 2 * args.n]
    )
    made = [("mailbox made beforehand (account creation, kreide mail-start)", make)]
    steps: list[tuple[str, Callable[[User], None]]] = [
        *(made if args.made else []),
        ("dashboard's unread count, first connection ever", unread),
        ("inbox, first opening", inbox),
        ("inbox, again", inbox),
        ("dashboard's unread count, again", unread),
    ]
    rows = []
    try:
        for label, step in steps:
            found: dict[str, list[tuple[int, int, int, float]]] = {"imap": [], "webmail": []}
            for number, user in enumerate(students):
                port = "imap" if number % 2 == 0 else "webmail"
                # The port webmail.mailbox() connects to: the mail programs' or its own.
                process.Ports.webmail = property(
                    lambda _self, p=(imap_port if port == "imap" else webmail_port): p
                )
                commands.clear()
                asked.clear()
                time.sleep(0.2)  # the last connection's processes have exited
                spawned, cpu = forks(), dovecot_cpu()
                step(user)
                time.sleep(0.2)
                found[port].append(
                    (len(commands), len(asked), forks() - spawned, (dovecot_cpu() - cpu) * 1000)
                )
            for port, values in found.items():
                rows.append(
                    f"| {label} | {port} | {statistics.median(v[0] for v in values):g} "
                    f"| {sum(v[1] for v in values)} | {sum(v[2] for v in values)} "
                    f"| {statistics.mean(v[3] for v in values):.1f} |"
                )
    finally:
        strace.terminate()
        strace.wait()
        servers.stop()
        service.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"Per connection, {args.n} students per port (load average {os.getloadavg()[0]:.1f}):\n\n"
        "| step | port | IMAP commands | Kreide asked (all) | processes spawned (all) "
        "| Dovecot CPU ms (mean) |\n|---|---|---|---|---|---|\n" + "\n".join(rows)
    )


if __name__ == "__main__":
    main()
