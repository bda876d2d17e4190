"""`kreide access-exports`: the worker that builds people's copies of their data
(started and supervised by `kreide serve`; `--once` builds what waits and exits)."""

import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from kreide.privacy import services

IDLE_SECONDS = 2.0


class Command(BaseCommand):
    help = "Build the copies of personal data people asked for, in the background."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="build what waits, then exit")

    def handle(self, *args, **options) -> None:
        while True:
            close_old_connections()
            export = services.process_next()
            if export is not None:
                self.stdout.write(f"copy {export.pk}: {export.state}")
                continue
            if options["once"]:
                return
            time.sleep(IDLE_SECONDS)  # one indexed query per interval while idle
