"""`kreide purge-blobs`: free the disk space of content nothing refers to (run daily,
after `purge-file-trash` and `purge-uploads`, which drop the last references)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from kreide.storage import collector


class Command(BaseCommand):
    help = (
        "Delete stored content no task, submission, file, message or upload refers to "
        "and that was not stored within --hours."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--hours", type=int, default=24, help="grace period (default 24)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, hours: int, no_progress: bool, **options) -> None:
        if hours < 1:
            raise CommandError(
                "--hours must be at least 1: content stored in the last hour may be an upload "
                "that is being attached right now."
            )
        with tqdm(unit="blob", desc="Collecting", disable=no_progress) as bar:

            def show(done: int, total: int) -> None:
                bar.total, bar.n = total, done
                bar.refresh()

            collected = collector.collect(timedelta(hours=hours), progress=show)
        self.stdout.write(
            f"{collected.blobs} stored contents deleted ({collected.bytes / 2**20:.1f} MiB); "
            f"{collected.orphan_files} files without a record found, "
            f"{collected.staging_files} interrupted writes removed."
        )
