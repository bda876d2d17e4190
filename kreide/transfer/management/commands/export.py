import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kreide.transfer.exporter import export_school
from kreide.transfer.serialize import ExportError


class Command(BaseCommand):
    help = "Write one school (users, classes, tasks, files, messages, …) into one archive."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--school", required=True, metavar="SLUG", help="the school's short name"
        )
        parser.add_argument("out", type=Path, help="archive to write, e.g. nord.kreide.tar")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options) -> None:
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(f"Directory {out.parent} does not exist.")
        started = time.monotonic()
        try:
            manifest = export_school(options["school"], out, progress=not options["no_progress"])
        except ExportError as error:
            raise CommandError(str(error)) from error
        rows = sum(part.count for part in manifest.parts)
        detached = sum(p.get("detached_references", 0) for p in manifest.raw["parts"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {manifest.school['slug']}: {rows} rows in {len(manifest.parts)} parts, "
                f"{len(manifest.blobs)} files, {out.stat().st_size} bytes to {out} in "
                f"{time.monotonic() - started:.1f} s."
            )
        )
        if detached:
            self.stdout.write(
                self.style.WARNING(
                    f"{detached} references to objects outside the school were left empty."
                )
            )
