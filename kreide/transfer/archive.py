"""The archive format and its verification.

A school archive is an uncompressed tar:

    data/<app>.<model>.jsonl   one JSON object per row, in dependency order of the parts
    blobs/<sha256>             every file the rows refer to, once
    mail/index.jsonl           with school e-mail: one line per mail (account, folder,
    mail/<sha256>              flags, date, SHA-256) and each mail's content once
                               (kreide/mail/transfer.py)
    manifest.json              written last: format version, school, schema, per part its
                               row count, fields, size and SHA-256, per blob its size

Everything in the manifest except "exported" (time, source database, Kreide version) is
a function of the school's data, so two exports of the same data have equal manifests.
The checksums detect damage and accidental edits; an archive that must be protected
against deliberate tampering is signed or encrypted outside Kreide (see operations.md).
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

FORMAT = "kreide-school-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
READ_CHUNK = 1024 * 1024


class ArchiveError(Exception):
    """The archive is damaged, altered, incomplete or of an unknown format."""


@dataclass(frozen=True)
class Part:
    kind: str
    path: str
    count: int
    size: int
    sha256: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    raw: dict[str, Any]
    parts: tuple[Part, ...]
    blobs: tuple[tuple[str, int], ...]  # (sha256, size) in sha256 order
    mail_index: Part | None = None
    mail: tuple[tuple[str, int], ...] = ()  # (sha256, size) of every mail's content

    @property
    def school(self) -> dict[str, Any]:
        return self.raw["school"]

    @property
    def schema(self) -> list[str]:
        return self.raw["schema"]

    def comparable(self) -> dict[str, Any]:
        """The manifest without the export's own circumstances (time, source database)."""
        return {key: value for key, value in self.raw.items() if key != "exported"}


def blob_path(sha256: str) -> str:
    return f"blobs/{sha256}"


def part_path(kind: str) -> str:
    return f"data/{kind}.jsonl"


MAIL_INDEX = "mail/index.jsonl"


def mail_path(sha256: str) -> str:
    return f"mail/{sha256}"


def _is_sha256(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def parse_manifest(data: bytes) -> Manifest:
    """Check the manifest's structure; name the first thing that is wrong."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArchiveError(f"manifest.json is not valid JSON ({error}).") from error
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ArchiveError("manifest.json does not describe a Kreide school export.")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise ArchiveError(
            f"Unknown archive format version {version!r}: this Kreide reads version "
            f"{FORMAT_VERSION}. Import it with the Kreide release that wrote it, or newer."
        )
    try:
        parts = tuple(
            Part(
                kind=str(p["kind"]),
                path=str(p["path"]),
                count=int(p["count"]),
                size=int(p["size"]),
                sha256=str(p["sha256"]),
                fields=tuple(str(f) for f in p["fields"]),
            )
            for p in raw["parts"]
        )
        blobs = tuple((str(b["sha256"]), int(b["size"])) for b in raw["blobs"])
        slug = raw["school"]["slug"]
        schema = raw["schema"]
    except (KeyError, TypeError, ValueError) as error:
        raise ArchiveError(f"manifest.json is incomplete or malformed ({error!r}).") from error
    if not isinstance(slug, str) or not slug or not isinstance(schema, list):
        raise ArchiveError("manifest.json names no school or no schema.")
    for part in parts:
        if part.path != part_path(part.kind) or not _is_sha256(part.sha256):
            raise ArchiveError(f"manifest.json: part {part.kind!r} is malformed.")
    if not parts or parts[0].kind != "schools.school" or parts[0].count != 1:
        raise ArchiveError("manifest.json: the first part must be exactly one school.")
    if not all(_is_sha256(sha) for sha, _ in blobs):
        raise ArchiveError("manifest.json lists a file whose name is not a SHA-256.")
    mail_index, mail = _parse_mail(raw.get("mail"))
    return Manifest(raw=raw, parts=parts, blobs=blobs, mail_index=mail_index, mail=mail)


def _parse_mail(raw: Any) -> tuple[Part | None, tuple[tuple[str, int], ...]]:
    """The optional mail section: the index part and every mail's (sha256, size)."""
    if raw is None:
        return None, ()
    try:
        index = raw["index"]
        part = Part(
            kind="mail.index",
            path=str(index["path"]),
            count=int(index["count"]),
            size=int(index["size"]),
            sha256=str(index["sha256"]),
            fields=tuple(str(f) for f in index["fields"]),
        )
        mail = tuple((str(m["sha256"]), int(m["size"])) for m in raw["messages"])
    except (KeyError, TypeError, ValueError) as error:
        raise ArchiveError(f"manifest.json: the mail section is malformed ({error!r}).") from error
    if part.path != MAIL_INDEX or not _is_sha256(part.sha256):
        raise ArchiveError("manifest.json: the mail index is malformed.")
    if not all(_is_sha256(sha) for sha, _ in mail):
        raise ArchiveError("manifest.json lists a mail whose name is not a SHA-256.")
    return part, mail


def open_tar(path: str) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ArchiveError(f"{path} is not a readable archive ({error}).") from error


def members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    try:
        members = tar.getmembers()
    except (tarfile.TarError, EOFError) as error:
        raise ArchiveError(f"The archive is damaged or truncated ({error}).") from error
    by_name: dict[str, tarfile.TarInfo] = {}
    for member in members:
        if member.name in by_name:
            raise ArchiveError(f"The archive contains {member.name} twice.")
        if not member.isfile():
            raise ArchiveError(f"The archive contains {member.name}, which is not a file.")
        by_name[member.name] = member
    return by_name


class Reader:
    """Members by name in O(1) (TarFile.getmember scans the whole list every time)."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar, self.by_name = tar, members(tar)

    def open(self, name: str) -> BinaryIO:
        return read_member(self.tar, self.by_name[name])


def read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> BinaryIO:
    handle = tar.extractfile(member)
    assert handle is not None  # members() admits regular files only
    return handle


def _digest(
    tar: tarfile.TarFile, member: tarfile.TarInfo, on_bytes: Callable[[int], None]
) -> tuple[str, int, int]:
    """SHA-256, size and newline count of a member, read in chunks."""
    digest, size, lines = hashlib.sha256(), 0, 0
    try:
        with read_member(tar, member) as handle:
            for chunk in iter(lambda: handle.read(READ_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                on_bytes(len(chunk))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveError(f"{member.name} is truncated ({error}).") from error
    return digest.hexdigest(), size, lines


def load_manifest(tar: tarfile.TarFile) -> tuple[Manifest, dict[str, tarfile.TarInfo]]:
    by_name = members(tar)
    if MANIFEST not in by_name:
        raise ArchiveError(
            "manifest.json is missing: the archive is truncated or not a Kreide export."
        )
    try:
        with read_member(tar, by_name[MANIFEST]) as handle:
            data = handle.read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveError(f"manifest.json is truncated ({error}).") from error
    return parse_manifest(data), by_name


def verify(tar: tarfile.TarFile, on_bytes: Callable[[int], None] = lambda n: None) -> Manifest:
    """Check the whole archive against its manifest before anything is written anywhere."""
    manifest, by_name = load_manifest(tar)
    parts = (*manifest.parts, *([manifest.mail_index] if manifest.mail_index else []))
    expected = {part.path: part for part in parts}
    blobs = {blob_path(sha): (sha, size) for sha, size in manifest.blobs}
    blobs.update({mail_path(sha): (sha, size) for sha, size in manifest.mail})
    if len(expected) != len(parts) or len(blobs) != len(manifest.blobs) + len(manifest.mail):
        raise ArchiveError("manifest.json lists a part or a file twice.")
    listed = {MANIFEST, *expected, *blobs}
    missing = sorted(listed - set(by_name))
    if missing:
        raise ArchiveError(
            "Missing from the archive (truncated?): "
            + ", ".join(missing[:20])
            + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        )
    unexpected = sorted(set(by_name) - listed)
    if unexpected:
        raise ArchiveError("Not listed in the manifest: " + ", ".join(unexpected[:20]))
    for name, member in by_name.items():
        if name == MANIFEST:
            continue
        sha256, size, lines = _digest(tar, member, on_bytes)
        want_sha, want_size = (
            (expected[name].sha256, expected[name].size) if name in expected else blobs[name]
        )
        if size != want_size:
            raise ArchiveError(
                f"{name} has {size} bytes, the manifest says {want_size} (truncated or altered)."
            )
        if sha256 != want_sha:
            raise ArchiveError(
                f"{name} does not match its SHA-256 in the manifest (altered or damaged)."
            )
        if name in expected and lines != expected[name].count:
            raise ArchiveError(
                f"{name} has {lines} rows, the manifest says {expected[name].count}."
            )
    return manifest
