"""`kreide notifications-remind`: remind students of tasks due tomorrow (idempotent; run
hourly by `kreide notifications-work` and nightly by `kreide housekeeping`)."""

from django.core.management.base import BaseCommand

from kreide.notifications import services


class Command(BaseCommand):
    help = "Notify students who have not handed in a task due tomorrow (once per task)."

    def handle(self, *args, **options) -> None:
        written = services.remind_due_tomorrow()
        self.stdout.write(f"{written} due-tomorrow reminders written")
