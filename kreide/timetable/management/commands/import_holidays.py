"""`kreide import-holidays --school SLUG FILE.ics`: the state's school holidays."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kreide.schools.models import School
from kreide.timetable import calendars


class Command(BaseCommand):
    help = "Import a state's school holidays (ICS) as school-free days of a school."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--school", required=True, help="the school's short name (slug)")

    def handle(self, *args, **options) -> None:
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with the short name {options['school']!r}.")
        try:
            with options["file"].open("rb") as handle:
                data = handle.read(calendars.MAX_ICS_BYTES + 1)
            added, updated = calendars.import_holidays(None, school, data)
        except OSError as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"{added} school holidays added, {updated} updated.")
