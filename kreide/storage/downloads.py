"""Sending stored files to the browser.

In production the front web server sends the bytes (X-Accel-Redirect for nginx,
X-Sendfile for Apache), with range requests, so no Python worker is held by a download.
The embedded default streams the file from Python.
"""

from __future__ import annotations

import mimetypes
import unicodedata
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, HttpResponse

from kreide.storage.blobstore import blob_path, open_blob
from kreide.storage.models import Blob

# nginx: `location /_blobs/ { internal; alias <STORAGE_DIR>/; }` (docs/deployment.md)
INTERNAL_PREFIX = "/_blobs/"


def content_disposition(filename: str, inline: bool = False) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name, so umlauts survive everywhere."""
    kind = "inline" if inline else "attachment"
    ascii_name = (
        unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode() or "download"
    )
    ascii_name = "".join(ch if ch.isprintable() and ch not in '"\\;' else "_" for ch in ascii_name)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def blob_response(blob: Blob, filename: str, inline: bool = False) -> HttpResponse:
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    offload = settings.DOWNLOAD_OFFLOAD
    if offload == "nginx":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = (
            f"{INTERNAL_PREFIX}{blob.sha256[:2]}/{blob.sha256[2:4]}/{blob.sha256}"
        )
    elif offload == "apache":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = str(blob_path(blob))
    else:
        response = FileResponse(open_blob(blob), content_type=content_type)
        response["Content-Length"] = str(blob.size)
    response["Content-Disposition"] = content_disposition(filename, inline)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    response["ETag"] = f'"{blob.sha256}"'
    return response
