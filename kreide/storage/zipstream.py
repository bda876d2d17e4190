"""ZIP archives streamed chunk by chunk: never built in memory or on disk.

`zipfile` writes to a small pipe-like buffer that is drained after every chunk, using data
descriptors because the output cannot seek; ZIP64 kicks in for large members.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime

from kreide.storage.blobstore import CHUNK, open_blob
from kreide.storage.models import Blob


class _Pipe(io.RawIOBase):
    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def stream_zip(members: Iterable[tuple[str, Blob | bytes, datetime]]) -> Iterator[bytes]:
    """Yield a ZIP of (name inside the archive, stored blob or small bytes, modified)."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, content, modified in members:
            info = zipfile.ZipInfo(name, date_time=modified.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            size = content.size if isinstance(content, Blob) else len(content)
            info.file_size = size
            with archive.open(info, "w", force_zip64=size > 2**31) as target:
                if isinstance(content, Blob):
                    with open_blob(content) as source:
                        for chunk in iter(lambda source=source: source.read(CHUNK), b""):
                            target.write(chunk)
                            yield pipe.drain()
                else:
                    target.write(content)
            yield pipe.drain()
    yield pipe.drain()
