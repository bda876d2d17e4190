"""`kreide news-announce`: notify the readers of scheduled news once it is due (run by
`kreide serve` every minute; news posted for now is announced when it is posted)."""

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from kreide.news.services import announce_due

logger = logging.getLogger(__name__)
INTERVAL_SECONDS = 60


class Command(BaseCommand):
    help = "Notify the readers of scheduled news that became due (every minute unless --once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Announce once and exit.")

    def handle(self, *args, once: bool = False, **options):
        while True:
            close_old_connections()
            try:
                count = announce_due()
            except Exception:  # the database away: try again next minute
                if once:
                    raise
                logger.exception("scheduled news not announced")
            else:
                if once:
                    self.stdout.write(f"{count} news announced")
                    return
            time.sleep(INTERVAL_SECONDS)
