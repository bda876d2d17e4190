"""`kreide school-year rollover --school SLUG [--dry-run]`"""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from kreide.schools.models import School
from kreide.schoolyear import services
from kreide.schoolyear.views import describe_plan


class Command(BaseCommand):
    help = "The school year: roll a school over into the next year (classes move up)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        rollover = actions.add_parser("rollover", help="move the classes up a year")
        rollover.add_argument("--school", required=True, help="the school's short name (slug)")
        rollover.add_argument("--dry-run", action="store_true", help="only show what would change")

    def handle(self, *args, **options) -> None:
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with the short name {options['school']!r}.")
        preview = services.plan_rollover(school)
        if preview.problems:
            raise CommandError(" ".join(preview.problems))
        if options["dry_run"]:
            plan = services.rollover(None, school, dry_run=True, as_operator=True)
        else:
            with tqdm(
                total=services.steps(preview), unit="step", disable=None, file=self.stderr
            ) as bar:
                try:
                    plan = services.rollover(
                        None, school, dry_run=False, as_operator=True, progress=bar.update
                    )
                except services.RolloverRefused as error:
                    raise CommandError(str(error)) from None
                bar.update(bar.total - bar.n)
        for line in describe_plan(plan):
            self.stdout.write(line)
        self.stdout.write("Dry run: nothing was changed." if options["dry_run"] else "Rolled over.")
