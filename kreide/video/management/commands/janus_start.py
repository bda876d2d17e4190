"""`kreide janus-start`: run a local Janus for this Kreide and watch media server health.

Writes Janus's configuration from scripts/janus/templates into the data directory, starts
Janus, registers it as a media server and checks every media server's health every few
seconds (the cached state behind the "video unavailable" banner) until stopped. When Janus
exits it is started again after a backoff with jitter; the command itself only ends on
SIGTERM/Ctrl+C, so `kreide serve` (KREIDE_JANUS=auto) never stops the pages for video.
"""

import logging
import random
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kreide.video import janus_process, services
from kreide.video.models import MediaServer

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Start a local Janus media server for video lessons and monitor media servers."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--http-port", type=int, default=8088)
        parser.add_argument("--ws-port", type=int, default=8188)
        parser.add_argument("--rtp-ports", default="20000-20999")
        parser.add_argument(
            "--public-url",
            default="",
            help="WebSocket address browsers use (default ws://HOST:WS_PORT).",
        )
        parser.add_argument(
            "--capacity",
            type=int,
            default=150,
            help="Participant streams this machine carries (docs/video.md).",
        )
        parser.add_argument(
            "--ice-interface",
            default="",
            help="Janus's ice_enforce_list (a non-loopback interface).",
        )
        parser.add_argument("--check-every", type=float, default=10.0)

    def handle(self, *args, **options):
        if not janus_process.available():
            raise CommandError(
                "Janus is not installed (apt-get install janus): video stays "
                "off, everything else works."
            )
        self.stopping = False

        def stop(*_):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        failures = 0
        while not self.stopping:
            try:
                started = self.start(options)
            except (RuntimeError, OSError) as error:
                failures += 1
                logger.error("Janus did not start", extra={"error": str(error)})
                services.check_servers()
                self.wait(min(300, 2**failures) * random.uniform(0.5, 1.0))
                continue
            failures = 0
            try:
                while not self.stopping and started.process.poll() is None:
                    services.sync_configured_servers()
                    services.check_servers()
                    self.wait(options["check_every"], started.process)
            finally:
                started.stop()
                MediaServer.objects.filter(url=started.api_url).update(healthy=False)
                services.check_servers()
            if not self.stopping:
                logger.error(
                    "Janus exited; starting it again",
                    extra={"returncode": started.process.returncode},
                )
                self.wait(random.uniform(1.0, 3.0))

    def start(self, options) -> janus_process.JanusProcess:
        low, high = (int(port) for port in options["rtp_ports"].split("-"))
        started = janus_process.start(
            settings.DATA_DIR / "janus",
            host=options["host"],
            http_port=options["http_port"],
            ws_port=options["ws_port"],
            rtp_ports=(low, high),
            ice_interface=options["ice_interface"],
        )
        MediaServer.objects.update_or_create(
            url=started.api_url,
            defaults={
                "name": f"Janus {options['host']}:{options['http_port']}",
                "public_url": options["public_url"] or started.ws_url,
                "admin_key": started.admin_key,
                "capacity": options["capacity"],
                "enabled": True,
            },
        )
        self.stdout.write(f"Janus runs (API {started.api_url}, browsers {started.ws_url}).")
        return started

    def wait(self, seconds: float, process=None) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                return
            time.sleep(0.2)
