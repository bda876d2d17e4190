"""School e-mail throughput with Kreide as the auth source: IMAP logins/s, SMTP
submissions/s, and the webmail opened by every student of the demo school.

Creates the demo school (1,200 students) in a database of its own, runs `kreide mail-start`
(Kreide's mail service + Dovecot + Postfix on free loopback ports), then:
1. IMAP logins nobody signed in with before (Dovecot asks Kreide: argon2id + lockout),
2. the same logins again (answered from Dovecot's short auth cache),
3. SMTP submissions with AUTH, each to a classmate (Postfix asks Kreide's socketmap and
   policy service),
4. the webmail's inbox page for every student (Django's view in this process: IMAP master
   login, folder list with unread counts, first page) — the 8:00 wave's server-side cost.
Kreide's own CPU per login is read from /proc for the `kreide mail-start` process.
Needs root (Postfix), PostgreSQL and Redis on loopback.

    .venv/bin/python bench/mail/run.py --clients 4
"""

from __future__ import annotations

import argparse
import imaplib
import os
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.wave.stack import fresh_database  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PASSWORD = "kreide-demo"


def free_base() -> int:
    for base in range(41000, 60000, 100):
        try:
            for offset in (24, 25, 26, 30, 31, 32, 33, 43, 44, 87):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free ports")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phase(name: str, items: list, clients: int, work: Callable) -> dict:
    """Run `work(item)` over the items with `clients` threads; rate and latencies."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    queue = iter(items)

    def worker() -> None:
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            started = time.perf_counter()
            try:
                work(item)
            except Exception as error:  # counted and reported, the run goes on
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    pick = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000  # noqa: E731
    return {
        "name": name,
        "done": len(latencies),
        "errors": errors,
        "per_second": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000 if latencies else 0,
        "p95": pick(0.95) if latencies else 0,
        "elapsed": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--logins", type=int, default=300)
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--database", default="kreide_bench_mail")
    args = parser.parse_args()

    mail_dir = Path(tempfile.mkdtemp(prefix="kreide-bench-mail-"))
    mail_dir.chmod(0o755)
    base = free_base()
    env = {
        **os.environ,
        "KREIDE_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
        "KREIDE_REDIS_URL": "redis://127.0.0.1:6379/11",
        "KREIDE_DATA_DIR": str(ROOT / "var" / "bench-mail"),
        "KREIDE_MAIL_DIR": str(mail_dir / "mail"),
        "KREIDE_MAIL_PORT_BASE": str(base),
        "KREIDE_LOGIN_FAILURES_PER_ADDRESS": "100000",
        "KREIDE_MAIL_RECIPIENTS_PER_HOUR": "100000",
    }
    os.environ.update(env)
    fresh_database(args.database)
    subprocess.run(["redis-cli", "-n", "11", "FLUSHDB"], check=True, capture_output=True)
    for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"], ["seed-demo"]):
        subprocess.run([BIN / "kreide", *command], env=env, check=True, capture_output=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")
    import django

    django.setup()
    from django.test import Client

    from kreide.accounts.models import User
    from kreide.mail.services import address_of

    students = list(User.objects.filter(role="student", is_active=True).select_related("school"))
    addresses = [address_of(student) for student in students]
    server = subprocess.Popen(
        [BIN / "kreide", "mail-start"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    host = "127.0.0.1"
    try:
        for _ in range(600):
            try:
                with smtplib.SMTP(host, base + 87, timeout=2):
                    break
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError(server.stdout.read().decode()) from None
                time.sleep(0.1)

        def imap(address: str) -> None:
            client = imaplib.IMAP4(host, base + 43, timeout=30)
            client.login(address, PASSWORD)
            client.logout()

        def submit(index: int) -> None:
            sender, recipient = (
                addresses[index % len(addresses)],
                addresses[(index + 1) % len(addresses)],
            )
            with smtplib.SMTP(host, base + 87, timeout=30) as smtp:
                smtp.login(sender, PASSWORD)
                smtp.sendmail(sender, [recipient], f"Subject: Bench {index}\r\n\r\nHallo")

        before = cpu_seconds(server.pid)
        logins = addresses[: args.logins]
        uncached = run_phase("IMAP login, first time (Kreide decides)", logins, args.clients, imap)
        kreide_cpu = (cpu_seconds(server.pid) - before) / max(1, uncached["done"])
        cached = run_phase("IMAP login again (Dovecot's auth cache)", logins, args.clients, imap)
        before = cpu_seconds(server.pid)
        sent = run_phase(
            "SMTP submission with AUTH", list(range(args.submissions)), args.clients, submit
        )
        kreide_cpu_submission = (cpu_seconds(server.pid) - before) / max(1, sent["done"])

        local = threading.local()

        def open_webmail(student) -> None:
            if getattr(local, "client", None) is None:
                local.client = Client(HTTP_HOST="127.0.0.1")
            local.client.force_login(student)
            response = local.client.get("/mail/")
            if response.status_code != 200:
                raise RuntimeError(f"webmail answered {response.status_code}")

        wave = run_phase(
            "webmail inbox page (in-process view)", students, args.clients, open_webmail
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"# School e-mail with Kreide as the auth source\n\n- machine: {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, Dovecot 2.3, Postfix 3.7, PostgreSQL, Redis"
    )
    print(
        f"- {args.clients} concurrent clients; demo school, {len(students)} students; load "
        f"average at the end {os.getloadavg()[0]:.1f} (the machine is shared)\n"
    )
    print("| phase | done | errors | per second | p50 ms | p95 ms |\n|---|---|---|---|---|---|")
    for phase in (uncached, cached, sent, wave):
        print(
            f"| {phase['name']} | {phase['done']} | {len(phase['errors'])} | "
            f"{phase['per_second']:.1f} | {phase['p50']:.0f} | {phase['p95']:.0f} |"
        )
    print(
        f"\n- Kreide's CPU per first-time login (mail service process): {kreide_cpu * 1000:.1f} ms"
    )
    print(
        f"- Kreide's CPU per submission (socketmap + policy lookups): "
        f"{kreide_cpu_submission * 1000:.1f} ms"
    )
    print(
        f"- all {len(students)} students opening the webmail took {wave['elapsed']:.1f} s "
        f"of server time at {args.clients} at once"
    )
    for phase in (uncached, cached, sent, wave):
        if phase["errors"]:
            print(f"\nFirst errors in '{phase['name']}':", *phase["errors"][:3], sep="\n- ")


if __name__ == "__main__":
    main()
