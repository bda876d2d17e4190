"""`kreide messenger-sync-rooms`: every class and group room in step with the roster."""

from django.core.management.base import BaseCommand, CommandError

from kreide.core import leader
from kreide.messenger import services
from kreide.schools.models import School


class Command(BaseCommand):
    help = "Create missing class and group rooms and align their members with the roster."

    def add_arguments(self, parser):
        parser.add_argument("--school", help="Short name (slug) of one school; default: all.")

    def handle(self, *args, **options):
        schools = School.objects.order_by("pk")
        if options["school"]:
            schools = schools.filter(slug=options["school"])
            if not schools.exists():
                raise CommandError(f"No school with the short name {options['school']!r}.")
        # Run from a timer on several nodes, one of them syncs; the sync is idempotent, this
        # only saves the others the work and the lock waits.
        with leader.exclusive("messenger-sync-rooms") as leading:
            if not leading:
                self.stdout.write("Another node is syncing the rooms right now.")
                return
            for school in schools:
                count = services.sync_school_rooms(school.pk)
                self.stdout.write(f"{school.slug}: {count} rooms in step with the roster.")
