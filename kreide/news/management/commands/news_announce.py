"""`kreide news-announce`: notify the readers of scheduled news once it is due (run by
`kreide serve` every minute; news posted for now is announced when it is posted). With
several nodes only the one holding the job's lock announces (kreide.core.leader); the
row locks in `announce_due` keep each news announced once even so."""

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from kreide.core import leader
from kreide.news.services import announce_due

logger = logging.getLogger(__name__)
INTERVAL_SECONDS = 60


class Command(BaseCommand):
    help = "Notify the readers of scheduled news that became due (every minute unless --once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Announce once and exit.")

    def handle(self, *args, once: bool = False, **options):
        leadership = leader.Leadership("news-announce")
        while True:
            close_old_connections()
            try:
                if once or leadership.held():
                    count = announce_due()
                    if once:
                        self.stdout.write(f"{count} news announced")
                        return
            except Exception:  # the database away: try again next minute
                if once:
                    raise
                logger.exception("scheduled news not announced")
            time.sleep(INTERVAL_SECONDS)
