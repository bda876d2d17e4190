"""A shared store whose server is away answers 503 with a message, not a 500.

On a network file system (docs/scale-out.md) any file operation can fail while its server
is away; every page that touches no file goes on working. Whatever file operation a view
was doing — a download, a tus PATCH, a form upload — ends in this one place. (A streamed
answer, a ZIP of submissions, that fails midway can only break off: its status was sent.)
`StorageConfig.ready()` registers `as_refusal` with the refusal mechanism (kreide.core.errors).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from kreide.core.errors import refusal_response
from kreide.storage.blobstore import UNREACHABLE, StoreUnreachable

log = logging.getLogger(__name__)


def as_refusal(exception: Exception) -> StoreUnreachable | None:
    if isinstance(exception, OSError) and exception.errno in UNREACHABLE:
        log.error("file store unreachable: %s", exception)
        return StoreUnreachable()
    return None


def unreachable(request: HttpRequest) -> HttpResponse:
    """Where nginx sends a download it could not open (`error_page` in /_blobs/)."""
    return refusal_response(request, StoreUnreachable())
