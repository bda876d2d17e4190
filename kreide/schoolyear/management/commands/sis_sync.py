"""`kreide sis-sync --school SLUG FILE [--apply]`"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kreide.accounts import credentials, importing
from kreide.schools.models import School
from kreide.schoolyear import sis


class Command(BaseCommand):
    help = (
        "Compare a school's export from its administration software (Kreide CSV or "
        "SchILD-NRW) with its accounts; with --apply, write the difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--school", required=True, help="the school's short name (slug)")
        parser.add_argument("--apply", action="store_true", help="apply the difference")
        credentials.add_slip_arguments(parser)

    def handle(self, *args, **options) -> None:
        school = School.objects.filter(slug=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with the short name {options['school']!r}.")
        try:
            kind, records = sis.parse(Path(options["file"]).read_bytes())
        except OSError as error:
            raise CommandError(str(error)) from error
        except importing.ImportFileError as error:
            for problem in error.errors:
                self.stderr.write(str(problem))
            raise CommandError("Nothing was changed.") from None
        diff = sis.diff_for(school, kind, records)
        self.stdout.write(f"Format: {sis.FORMATS[kind]}")
        for record, possible in diff.new_rows:
            self.stdout.write(
                f"new: {record.sis_id} {record.first_name} {record.last_name} ({record.class_name})"
            )
            if possible:
                names = "; ".join(str(candidate) for candidate in possible)
                self.stdout.write(f"  warning: not linked, may be the existing account: {names}")
        for change in diff.linked:
            self.stdout.write(
                f"link: {change.record.sis_id} {change.record.first_name} "
                f"{change.record.last_name} ({change.record.class_name}) with the existing "
                f"account {change.user.username} {change.changes or ''}".rstrip()
            )
        for change in diff.changed:
            self.stdout.write(f"changed: {change.record.sis_id} {change.changes}")
        for change in diff.moved:
            old, new = change.changes["class"]
            self.stdout.write(f"moved: {change.record.sis_id} {old or '-'} -> {new}")
        for user in diff.left:
            self.stdout.write(f"left: {user.sis_id} {user.get_full_name()} (deactivated)")
        summary = diff.summary()
        self.stdout.write(", ".join(f"{n} {k}" for k, n in summary.items()) + ".")
        if not options["apply"]:
            self.stdout.write("Nothing was changed: run again with --apply to apply it.")
            return
        try:
            # Exactly the diff printed above: applied in one transaction that works it out
            # again and refuses if accounts changed since.
            result = sis.apply(None, school, diff, expected=diff.digest(), as_operator=True)
        except sis.SyncRefused as error:
            raise CommandError(str(error.message)) from None
        except importing.ImportFileError as error:
            for problem in error.errors:
                self.stderr.write(str(problem))
            raise CommandError("Nothing was changed.") from None
        self.stdout.write(
            f"Applied: {len(result.imported.created)} created, {len(diff.linked)} linked, "
            f"{len(result.imported.updated)} updated, {len(result.deactivated)} deactivated."
        )
        if result.imported.credentials:
            target = credentials.write_slips(
                result.imported.credentials, school, options["credentials"], options["url"]
            )
            self.stdout.write(
                f"{len(result.imported.credentials)} sign-in slips written to {target}."
            )
