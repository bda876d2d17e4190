"""`kreide status-sample`: check each module's health every 30 s for the status page, and at
once when a module that was down answers again.

Every node's `kreide serve` runs one, but only the deployment's leader samples (a
PostgreSQL advisory lock, kreide.core.leader); the others count their own front door's
refusals and ask every few seconds whether the leader is still there, so one takes over
within seconds when the leader's node dies.
"""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from kreide.core import leader, load
from kreide.status import health

logger = logging.getLogger(__name__)
# How often a node that does not sample asks for the lead.
FOLLOWER_SECONDS = 2.0


class Command(BaseCommand):
    help = "Check the health of each module and publish it for /status (run by `kreide serve`)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Sample once and exit (on any node)."
        )

    def handle(self, *args, once: bool = False, **options):
        refusals = load.FrontRefusals(settings.FRONT_REFUSAL_LOG)
        leadership = leader.Leadership("status-sample")
        next_round = 0.0
        result = None
        while True:
            close_old_connections()  # a restarted database must not stay "down" here
            leading_before = leadership.leading
            leading = once or leadership.held()
            due = time.monotonic() >= next_round
            try:
                if due:
                    refusals.collect()  # before the sample, so it shows them
                if leading and (due or not leading_before):  # a new leader samples at once
                    result = health.sample()
                    if once:
                        bad = [name for name, state in result["modules"].items() if not state["ok"]]
                        self.stdout.write(
                            "all modules work" if not bad else "disrupted: " + ", ".join(bad)
                        )
                        return
            except Exception:  # the cache away: keep sampling, `kreide serve` keeps running
                if once:
                    raise
                logger.exception("status sample not published")
            if due:
                next_round = time.monotonic() + health.SAMPLE_SECONDS
            if not leading:
                time.sleep(FOLLOWER_SECONDS)
            elif health.wait_for_next_round(result):  # a module that was down is back
                next_round = 0.0
