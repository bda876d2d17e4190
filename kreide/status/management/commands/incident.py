"""`kreide incident open "text"`, `kreide incident close [ID]`, `kreide incident list`."""

from django.core.management.base import BaseCommand, CommandError

from kreide.status import services
from kreide.status.models import Incident


class Command(BaseCommand):
    help = "Post, resolve or list incident notes shown on /status and as a banner on every page."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        opening = actions.add_parser("open", help="Post a new incident note.")
        opening.add_argument("text")
        opening.add_argument("--level", choices=Incident.Level.values, default="warning")
        closing = actions.add_parser("close", help="Resolve one incident, or all open ones.")
        closing.add_argument("id", type=int, nargs="?")
        actions.add_parser("list", help="Show open incidents.")

    def handle(self, *args, action, **options):
        if action == "open":
            try:
                incident = services.open_incident(options["text"], options["level"])
            except ValueError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"Incident {incident.pk} is open and shown on every page.")
        elif action == "close":
            closed = services.close_incidents(options["id"])
            if options["id"] is not None and not closed:
                raise CommandError(f"No open incident with id {options['id']}.")
            self.stdout.write(f"{closed} incident(s) resolved.")
        else:
            for incident in Incident.objects.filter(ended_at__isnull=True):
                self.stdout.write(f"{incident.pk}\t{incident.level}\t{incident.text}")
