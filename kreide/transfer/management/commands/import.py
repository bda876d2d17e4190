from django.core.management.base import BaseCommand, CommandError

from kreide.core.db import refresh_statistics
from kreide.transfer.archive import ArchiveError
from kreide.transfer.importer import ImportRefused, import_archive


class Command(BaseCommand):
    help = "Import a school archive into this deployment: all or nothing, checked after writing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("archive")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="replace a school with the same short name (deletes its data)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        try:
            result = import_archive(
                options["archive"], replace=options["replace"], progress=not options["no_progress"]
            )
        except (ArchiveError, ImportRefused) as error:
            raise CommandError(f"{options['archive']}: {error} Nothing was imported.") from error
        refresh_statistics()
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.slug}{' (replaced)' if result.replaced else ''}: "
                f"{sum(result.counts.values())} rows, {result.files} files, "
                f"{result.mails} mails, verified."
            )
        )
