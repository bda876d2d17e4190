"""`kreide housekeeping`: the daily clean-up in the order it has to run (e.g. from
deploy/systemd/kreide-housekeeping.timer at night). With several nodes each may run the
timer: the one that gets the deployment-wide lock cleans up, the others say so and stop."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand

from kreide.core import leader


class Command(BaseCommand):
    help = (
        "Delete what the schools' retention rules say has expired, trash older than 30 "
        "days, uploads nobody finished in 7 days and access exports past their days, then "
        "free the disk space of content nothing refers to any more; remind students of tasks "
        "due tomorrow."
    )

    def handle(self, *args, **options) -> None:
        with leader.exclusive("housekeeping") as leading:
            if not leading:
                self.stdout.write("Another node is running the housekeeping right now.")
                return
            # Expired data, trash and old upload records hold the last references to
            # content, so they go first; the collector then frees what they referred to.
            call_command("retention", stdout=self.stdout)
            call_command("purge_access_exports", stdout=self.stdout)
            call_command("purge_file_trash", stdout=self.stdout)
            call_command("purge_uploads", stdout=self.stdout)
            call_command("purge_blobs", "--no-progress", stdout=self.stdout)
            # Reminders are idempotent: the worker's hourly run and this one never double up.
            call_command("notifications_remind", stdout=self.stdout)
