"""`kreide status-sample`: check each module's health every 30 s for the status page."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from kreide.core import load
from kreide.status import health

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Check the health of each module and publish it for /status (run by `kreide serve`)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Sample once and exit.")

    def handle(self, *args, once: bool = False, **options):
        refusals = load.FrontRefusals(settings.FRONT_REFUSAL_LOG)
        while True:
            close_old_connections()  # a restarted database must not stay "down" here
            try:
                refusals.collect()  # before the sample, so it shows them
                result = health.sample()
            except Exception:  # the cache away: keep sampling, `kreide serve` keeps running
                if once:
                    raise
                logger.exception("status sample not published")
            else:
                if once:
                    bad = [name for name, state in result["modules"].items() if not state["ok"]]
                    self.stdout.write(
                        "all modules work" if not bad else "disrupted: " + ", ".join(bad)
                    )
                    return
            time.sleep(health.SAMPLE_SECONDS)
