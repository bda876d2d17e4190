"""`kreide serve`: the production process set on one machine.

- Granian in WSGI mode with several worker processes for pages, uploads and the API
  (measured here about 9x the requests/s of Django under ASGI);
- a separate ASGI process (uvicorn) for long-lived connections (messenger, live updates),
  so an overload of one never stops the other;
- the status sampler, the worker building people's copies of their data, the notification
  worker (and Janus with KREIDE_JANUS=auto).
All are supervised: a child that exits is started again after a backoff (1 s, doubling up
to 60 s; back to 1 s once it ran for a minute) while the others go on serving; each
restart is logged and shown on /status. Ctrl+C or SIGTERM stops them all.
"""

import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from kreide.core import drain, restarts

logger = logging.getLogger("kreide.serve")
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 60.0
# A child that ran this long before it exited starts again after the first backoff.
STABLE_SECONDS = 60.0


def realtime_command(bin_dir: Path, host: str, port: int) -> list[str]:
    """The ASGI process for WebSockets (also started by bench/messenger). Frames over 64 KB
    close the connection (1009); no per-message compression, which would cost every idle
    connection its own zlib buffers; a deep backlog for the 8:00 reconnect wave."""
    return [
        str(bin_dir / "uvicorn"),
        "kreide.asgi:application",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--ws",
        "websockets-sansio",
        "--ws-max-size",
        "65536",
        "--ws-per-message-deflate",
        "false",
        "--backlog",
        "4096",
        # A ping per minute is enough to find dead connections and keeps thousands of idle
        # sockets cheap (uvicorn's default is every 20 s).
        "--ws-ping-interval",
        "60",
        "--ws-ping-timeout",
        "30",
        # Not a log line per connection: thousands of them arrive at 8:00.
        "--log-level",
        "warning",
    ]


def raise_file_limit() -> None:
    """Each WebSocket holds a file descriptor: lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Command(BaseCommand):
    help = "Serve Kreide: WSGI workers for pages, an ASGI process for real-time connections."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SERVE_HOST)
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT)
        parser.add_argument(
            "--realtime-port",
            type=int,
            default=settings.REALTIME_PORT,
            help="Port of the ASGI process (WebSockets).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.SERVE_WORKERS,
            help="WSGI worker processes (default: 2, one per core here).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=settings.SERVE_THREADS,
            help="Threads per WSGI worker (default: enough for admission control's "
            "requests in flight and queues, so a refusal never waits for a thread).",
        )

    def handle(self, *args, **options):
        from kreide.core.admission import Limits

        bin_dir = Path(sys.executable).parent
        if not options["threads"]:
            options["threads"] = (
                Limits.from_settings().threads_needed() if settings.ADMISSION_ENABLED else 4
            )
        raise_file_limit()
        drain.end()  # a node restarted after `kreide drain` takes requests again
        metrics_dir = Path(tempfile.mkdtemp(prefix="kreide-metrics-"))
        env = {
            **os.environ,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            # The pages point browsers (and the CSP) at the port the real-time process
            # really listens on, also when --realtime-port differs from the setting.
            "KREIDE_REALTIME_PORT": str(options["realtime_port"]),
        }
        commands = {
            "pages": [
                str(bin_dir / "granian"),
                "--interface",
                "wsgi",
                "--host",
                options["host"],
                "--port",
                str(options["port"]),
                "--workers",
                str(options["workers"]),
                "--blocking-threads",
                str(options["threads"]),
                "--backlog",
                "2048",
                "--respawn-failed-workers",
                "--no-log",
                "kreide.wsgi:application",
            ],
            "realtime": realtime_command(bin_dir, options["host"], options["realtime_port"]),
            # Health of each module for /status, every 30 s.
            "status-sample": [str(bin_dir / "kreide"), "status-sample"],
            # Notifications for scheduled news when it is due, every minute.
            "news-announce": [str(bin_dir / "kreide"), "news-announce"],
            # People's copies of their data, built in the background (kreide.privacy).
            "access-exports": [str(bin_dir / "kreide"), "access-exports"],
            # The notification queue: live updates, Web Push, digests, never in a request.
            "notifications": [str(bin_dir / "kreide"), "notifications-work"],
        }
        # Optional video: KREIDE_JANUS=auto runs a local Janus and its health monitor
        # (it restarts Janus itself, so a Janus crash never stops the pages).
        if settings.JANUS == "auto" and Path("/usr/bin/janus").exists():
            commands["janus"] = [str(bin_dir / "kreide"), "janus-start"]
        # School e-mail: KREIDE_MAIL=auto runs Postfix and Dovecot with Kreide as their
        # directory, supervised by `kreide mail-start` (its crash never stops the pages).
        from kreide.mail import process as mail_process

        mail_missing = mail_process.missing()
        if settings.MAIL == "auto" and not mail_missing:
            commands["mail"] = [str(bin_dir / "kreide"), "mail-start"]
        elif settings.MAIL == "auto":
            self.stdout.write(f"E-mail is not set up here: {mail_missing}.")
        children = {
            name: Child(name, command, env, settings.BASE_DIR) for name, command in commands.items()
        }
        self.stdout.write(
            f"Kreide serves pages at http://{options['host']}:{options['port']}/ "
            f"({options['workers']} workers) and real-time connections on port "
            f"{options['realtime_port']}. Stop with Ctrl+C."
        )

        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for child in children.values():
                    child.supervise()
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children.values():
                child.terminate()
            for child in children.values():
                child.wait()
            shutil.rmtree(metrics_dir, ignore_errors=True)


class Child:
    """One supervised child process: started again with backoff whenever it exits."""

    def __init__(self, name: str, command: list[str], env: dict, cwd: Path) -> None:
        self.name, self.command, self.env, self.cwd = name, command, env, cwd
        self.backoff = FIRST_BACKOFF
        self.restart_at: float | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd)
        self.started = time.monotonic()
        self.restart_at = None

    def supervise(self) -> None:
        """Called twice a second: notices an exit, starts the child again when it is time."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return
        code = self.process.poll()
        if code is None:
            return
        if now - self.started >= STABLE_SECONDS:
            self.backoff = FIRST_BACKOFF
        logger.error(
            "child exited, starting it again",
            extra={"child": self.name, "code": code, "restart_in_s": self.backoff},
        )
        try:
            restarts.record(self.name, code)
        except Exception:  # a full disk must not stop the supervision
            logger.exception("restart not recorded for /status")
        self.restart_at = now + self.backoff
        self.backoff = min(MAX_BACKOFF, self.backoff * 2)

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def wait(self) -> None:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
