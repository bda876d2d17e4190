"""`kreide retention`: delete what the schools' retention rules say has expired."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from kreide.privacy import retention
from kreide.schools.models import School


class Command(BaseCommand):
    help = (
        "Delete data whose retention period has ended (each school's rules, see its privacy "
        "page); --dry-run only counts."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--school", help="short name of one school (default: every school)")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )

    def handle(self, *args, **options) -> None:
        schools = School.objects.order_by("slug")
        if options["school"]:
            schools = schools.filter(slug=options["school"])
            if not schools.exists():
                raise CommandError(f"There is no school with the short name {options['school']!r}.")
        for school in schools:
            run = retention.run(school, dry_run=options["dry_run"])
            verb = "would delete" if run.dry_run else "deleted"
            self.stdout.write(f"{school.slug}: retention {verb}:")
            for r in retention.RULES:
                self.stdout.write(f"  {r.kind}: {run.counts.get(r.kind, 0)}")
