from django.core.management.base import BaseCommand, CommandError

from kreide.transfer.archive import ArchiveError
from kreide.transfer.importer import verify_file


class Command(BaseCommand):
    help = "Check a school archive against its manifest (every checksum, size and count)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("archive")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        try:
            manifest = verify_file(options["archive"], progress=not options["no_progress"])
        except ArchiveError as error:
            raise CommandError(f"{options['archive']}: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"{options['archive']} is intact: school {manifest.school['slug']}, "
                f"{sum(p.count for p in manifest.parts)} rows, {len(manifest.blobs)} files, "
                f"{manifest.mail_index.count if manifest.mail_index else 0} mails, "
                f"format {manifest.raw['format_version']}, "
                f"exported {manifest.raw['exported']['at']}."
            )
        )
