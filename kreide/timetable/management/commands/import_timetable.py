"""`kreide import-timetable --school SLUG --format untis|csv PATH... [--dry-run]`"""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kreide.schools.models import School
from kreide.timetable import importing, services

MAX_FILE_BYTES = 20 * 1024 * 1024


class Command(BaseCommand):
    help = "Import a school's timetable and substitutions (Untis GPU files or Kreide CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files, or a folder of them")
        parser.add_argument("--school", required=True, help="the school's short name (slug)")
        parser.add_argument("--format", choices=("untis", "csv"), default="untis")
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would change, change nothing"
        )
        parser.add_argument(
            "--from",
            dest="first",
            type=date.fromisoformat,
            help="first day the substitutions cover",
        )
        parser.add_argument(
            "--to", dest="last", type=date.fromisoformat, help="last day the substitutions cover"
        )

    def handle(self, *args, **options) -> None:
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with the short name {options['school']!r}.")
        files: dict[str, bytes] = {}
        for path in options["paths"]:
            for file in sorted(path.iterdir()) if path.is_dir() else [path]:
                if file.is_dir():
                    continue
                try:
                    if file.stat().st_size > MAX_FILE_BYTES:
                        raise CommandError(f"{file}: larger than 20 MB.")
                    files[file.name] = file.read_bytes()
                except OSError as error:
                    raise CommandError(str(error)) from error
        window = None
        if options["first"] or options["last"]:
            if not (options["first"] and options["last"]) or options["first"] > options["last"]:
                raise CommandError("--from and --to go together, --from not after --to.")
            window = (options["first"], options["last"])
        parsed = importing.parse(files, options["format"])
        try:
            report = services.import_timetable(
                school, parsed, apply=not options["dry_run"], window=window
            )
        except importing.TimetableImportError as error:
            for problem in error.problems:
                self.stderr.write(str(problem))
            raise CommandError("Nothing was imported.") from None
        write = self.stdout.write
        for title, changes in (
            ("+ lesson", report.lessons_added),
            ("- lesson", report.lessons_removed),
            ("+ substitution", report.substitutions_added),
            ("- substitution", report.substitutions_removed),
        ):
            for change in changes:
                write(f"{title}: {change}")
        for title, names in (
            ("new subjects", report.new_subjects),
            ("new rooms", report.new_rooms),
            ("teachers matched", report.new_teacher_codes),
        ):
            if names:
                write(f"{title}: {', '.join(names)}")
        if report.classes_affected:
            write(f"classes affected: {', '.join(report.classes_affected)}")
        if report.teachers_affected:
            write(f"teachers affected: {', '.join(report.teachers_affected)}")
        write(report.summary())
        if not report.changed:
            write("Nothing changed.")
        elif options["dry_run"]:
            write("Dry run: nothing was changed.")
