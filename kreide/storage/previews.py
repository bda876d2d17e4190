"""Which files a page may show inline, and plain text read for showing."""

from __future__ import annotations

from kreide.storage.blobstore import open_blob
from kreide.storage.models import Blob

# Shown in the browser: images and PDFs (served inline, same origin only) and plain text
# (read here and escaped into the page). SVG can carry script, so it is downloaded.
PREVIEW_TYPES = {
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".webp": "image",
    ".pdf": "pdf",
    ".txt": "text",
    ".md": "text",
    ".csv": "text",
}
TEXT_PREVIEW_BYTES = 100_000


def preview_kind(filename: str) -> str | None:
    """image, pdf, text, or None (download only)."""
    _stem, dot, extension = filename.lower().rpartition(".")
    return PREVIEW_TYPES.get(f".{extension}") if dot else None


def text_preview(blob: Blob) -> tuple[str, bool]:
    """The start of a text file as text (UTF-8, else Windows-1252 as older Windows editors
    save), and whether it was cut off."""
    with open_blob(blob) as handle:
        data = handle.read(TEXT_PREVIEW_BYTES + 1)
    cut = len(data) > TEXT_PREVIEW_BYTES
    data = data[:TEXT_PREVIEW_BYTES]
    # Cut off, the last character may be split: up to 3 bytes of it are dropped.
    for trim in range(4 if cut else 1):
        try:
            return data[: len(data) - trim].decode("utf-8"), cut
        except UnicodeDecodeError:
            continue
    return data.decode("cp1252", errors="replace"), cut
