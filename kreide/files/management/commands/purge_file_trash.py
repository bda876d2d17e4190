from django.core.management.base import BaseCommand

from kreide.files.services import TRASH_DAYS, purge_trash


class Command(BaseCommand):
    help = "Delete files and folders that have been in the trash longer than 30 days."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=TRASH_DAYS)

    def handle(self, *args, days: int, **options) -> None:
        count = purge_trash(days)
        self.stdout.write(f"{count} files and folders deleted for good.")
