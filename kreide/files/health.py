"""Files work when their tables answer and the blob store takes a file."""

from pathlib import Path

from django.conf import settings

from kreide.core import health


def check() -> str | None:
    health.tables_answer("files")
    health.writable(Path(settings.STORAGE_DIR))
    return None
