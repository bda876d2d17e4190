"""A tus client as the browser's uploader is one: create an upload, send bytes at an offset,
ask how far it got — each step through whichever node the test names."""

from __future__ import annotations

import base64
import time

import requests

from tests.faults.conftest import csrf_headers

TIMEOUT = 15


def create(session: requests.Session, base: str, folder: int, length: int) -> requests.Response:
    """POST /uploads/ for a file of `length` bytes into `folder`."""
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in {
            "purpose": "file",
            "filename": "Referat.bin",
            "folder": str(folder),
        }.items()
    )
    return session.post(
        f"{base}/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(length),
            "Upload-Metadata": metadata,
            **csrf_headers(session, base),
        },
        timeout=TIMEOUT,
    )


def path_of(created: requests.Response) -> str:
    return "/uploads/" + created.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def send(
    session: requests.Session, base: str, path: str, offset: int, data: bytes
) -> requests.Response:
    """PATCH `data` at `offset`."""
    return session.patch(
        f"{base}{path}",
        data=data,
        headers={
            "Tus-Resumable": "1.0.0",
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            **csrf_headers(session, base),
        },
        timeout=TIMEOUT,
    )


def offset(session: requests.Session, base: str, path: str) -> int:
    """HEAD: the offset the server confirmed. A gateway error of the front (nginx's 502/504
    while a node's worker is away) is asked again, as the browser's uploader does; any
    other answer without an offset fails with its status."""
    for _attempt in range(20):
        head = session.head(f"{base}{path}", headers={"Tus-Resumable": "1.0.0"}, timeout=TIMEOUT)
        if head.status_code not in (502, 504):
            break
        time.sleep(0.25)
    assert head.status_code == 200, (head.status_code, dict(head.headers))
    return int(head.headers["Upload-Offset"])
