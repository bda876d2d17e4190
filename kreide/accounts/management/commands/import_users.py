"""`kreide import-users FILE --school SLUG [--credentials OUT.pdf] [--url URL]`"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from kreide.accounts import credentials, importing, services
from kreide.schools.models import School


class Command(BaseCommand):
    help = "Import or update accounts of a school from a CSV file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--school", required=True, help="the school's short name (slug)")
        credentials.add_slip_arguments(parser)

    def handle(self, *args, **options) -> None:
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with the short name {options['school']!r}.")
        try:
            data = Path(options["file"]).read_bytes()
        except OSError as error:
            raise CommandError(str(error)) from error
        try:
            file_format = importing.read_format(data)
            rows = importing.parse(data, school)
        except importing.ImportFileError as error:
            for problem in error.errors:
                self.stderr.write(str(problem))
            raise CommandError("Nothing was imported.") from None
        with tqdm(total=len(rows), unit="account", disable=None, file=self.stderr) as bar:
            # Only new accounts need a password hash; the bar ends full either way.
            result = services.import_users(
                None, school, rows, as_operator=True, progress=bar.update
            )
            bar.update(bar.total - bar.n)
        self.stdout.write(file_format.describe())
        self.stdout.write(
            f"{len(result.created)} created, {len(result.updated)} updated, "
            f"{result.unchanged} unchanged, {len(result.groups_created)} new classes."
        )
        if result.credentials:
            target = credentials.write_slips(
                result.credentials, school, options["credentials"], options["url"]
            )
            self.stdout.write(f"{len(result.credentials)} sign-in slips written to {target}.")
            if not options["url"]:
                self.stdout.write(
                    "The slips name no web address: set KREIDE_PUBLIC_URL or pass --url."
                )
