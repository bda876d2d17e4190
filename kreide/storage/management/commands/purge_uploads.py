"""`kreide purge-uploads`: forget uploads nobody finished or needs any more (run daily).

An unfinished upload keeps its partial data for --days so a student can resume it after a
weekend; a finished upload's record is no longer needed once its file is attached.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from kreide.storage.models import Upload
from kreide.storage.tus import part_path


class Command(BaseCommand):
    help = "Delete unfinished uploads untouched for --days, and old finished upload records."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args, days: int, **options) -> None:
        cutoff = timezone.now() - timedelta(days=days)
        stale = Upload.unscoped.filter(updated_at__lt=cutoff)  # every school: operator command
        removed = 0
        for upload in stale.iterator():
            part_path(upload).unlink(missing_ok=True)
            upload.delete()
            removed += 1
        self.stdout.write(f"{removed} uploads purged")
