"""A tus 1.0 server (core, creation, creation-with-upload, termination, checksum) for every
upload in Kreide.

POST /uploads/ creates an upload after its purpose authorised it (so a file over the limit
is refused before one byte is stored); PATCH /uploads/<id> appends bytes at the offset the
server confirmed; HEAD tells a resuming client that offset; DELETE abandons the upload.
A creation may carry the first bytes (Content-Type application/offset+octet-stream): a
small file sent whole is authorised, stored and handed to its purpose in that one request
and one transaction, and never held as unfinished; a first chunk of a larger file starts
a resumable upload at the offset the answer confirms.
The bytes so far live in STORAGE_DIR/uploads/<id>.part; a PATCH that carries an
`Upload-Checksum` is written but rolled back to the previous offset if the checksum does not
match (status 460), so a tampered chunk never loses what was stored before. The last PATCH
moves the file into the content-addressed blob store and hands it to its purpose; the
purpose's result comes back in the `Kreide-Upload-Result` header and at
GET /uploads/<id>/result.

Concurrent PATCHes on one upload are serialised with a non-blocking file lock (423 for the
loser, which tus clients retry); completion is made idempotent with a row lock.

An unfinished upload holds disk space for its whole declared length from its creation: an
account has at most UPLOAD_UNFINISHED_MAX of them, together at most UPLOAD_UNFINISHED_BYTES
(429 with Retry-After beyond), and an upload that would not fit on the disk beside what
the others still have to send is refused at once (507). A full disk mid-chunk answers 507
with Retry-After and keeps none of the chunk; an upload its purpose refuses at completion
is forgotten and its content freed at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import functools
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from kreide.api.auth import authenticate
from kreide.core.navigation import fixed_url
from kreide.core.prepared import PreparedInsert
from kreide.storage import collector
from kreide.storage.blobstore import (
    StorageFull,
    check_room,
    full_disk_refused,
    store_bytes,
    store_path,
)
from kreide.storage.filenames import safe_filename
from kreide.storage.models import Upload
from kreide.storage.uploads import (
    SERVER_KEYS,
    Stored,
    UploadPurpose,
    UploadRefused,
    file_type_refusal,
    get_purpose,
)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum"
# A body sent with a creation up to this size (the uploader's chunk) is read into memory;
# a whole small file then costs one request and one transaction.
CREATION_BODY_IN_MEMORY = 4 * 1024 * 1024
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}
STATUS_CHECKSUM_MISMATCH = 460
READ_CHUNK = 256 * 1024
MAX_METADATA_LENGTH = 4096
# An account's own uploads finishing make room again soon.
UNFINISHED_RETRY_AFTER = 30
# Uploads untouched for this long no longer hold disk space for what they still have to
# send (they are resumable until `kreide purge-uploads` removes them).
DISK_RESERVATION = timedelta(days=1)


class TusError(Exception):
    def __init__(self, status: int, reason: str, **headers: str) -> None:
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers


def uploads_dir() -> Path:
    path = Path(settings.STORAGE_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def part_path(upload: Upload) -> Path:
    return uploads_dir() / f"{upload.pk}.part"


def tus_response(status: int = 204, reason: str = "", **headers: str) -> HttpResponse:
    response = HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def parse_metadata(header: str) -> dict[str, str]:
    """`key base64value,key2 base64value2` → dict; ValueError on anything malformed."""
    if len(header) > MAX_METADATA_LENGTH:
        raise ValueError("Upload-Metadata too long")
    metadata: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in header.split(","))):
        pieces = pair.split(" ")
        if len(pieces) > 2 or not pieces[0] or pieces[0] in metadata:
            raise ValueError("malformed Upload-Metadata")
        try:
            value = base64.b64decode(pieces[1], validate=True).decode() if len(pieces) == 2 else ""
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError("Upload-Metadata values must be base64 of UTF-8") from exc
        # NUL and other control characters never reach the database or a file name
        # (looked for character by character only in a value that has some).
        if not value.isprintable():
            value = "".join([ch for ch in value if ch.isprintable() or ch == " "])
        metadata[pieces[0]] = value
    return metadata


def _parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if header is None:
        return None
    algorithm, _space, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        raise TusError(400, _("Unsupported checksum algorithm."))
    try:
        return algorithm, base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise TusError(400, _("The checksum is not valid base64.")) from exc


def _non_negative_int(value: str | None, name: str) -> int:
    if value is None or not value.isdigit():
        raise TusError(400, _("Header %(name)s must be a non-negative integer.") % {"name": name})
    return int(value)


def _method(request: HttpRequest) -> str:
    # Some proxies only pass GET and POST; tus clients then send the real method here.
    override = request.headers.get("X-HTTP-Method-Override", "").upper()
    if request.method == "POST" and override in ("PATCH", "DELETE"):
        return override
    return request.method


def _check_version(request: HttpRequest) -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise TusError(412, _("Unsupported tus version."), Tus_Version=TUS_VERSION)


def _options() -> HttpResponse:
    return tus_response(
        204,
        Tus_Version=TUS_VERSION,
        Tus_Extension=EXTENSIONS,
        Tus_Max_Size=str(settings.MAX_UPLOAD_BYTES),
        Tus_Checksum_Algorithm=",".join(CHECKSUMS),
    )


def _sign_in(request: HttpRequest) -> None:
    """A script signs in with a personal API token (a write token for writes), a browser
    with its session and CSRF token: the API's one rule (kreide.api.auth)."""
    refused = authenticate(request, signed_out=_("Please sign in again to upload files."))
    if refused is not None:
        raise TusError(refused.status, str(refused.detail))


def _handle(view):
    """Turn TusError into a tus response; answer OPTIONS; sign in; check the protocol
    version."""

    @csrf_exempt  # checked in _sign_in, for sessions only: a token is no ambient credential
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            return _options()
        try:
            _sign_in(request)
            if request.method != "GET":
                _check_version(request)
            return view(request, *args, **kwargs)
        except TusError as error:
            return tus_response(error.status, error.reason, **error.headers)
        except UploadRefused as refused:
            return tus_response(refused.status, refused.message)
        except StorageFull as full:
            return tus_response(507, full.message, Retry_After=str(full.retry_after))

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return never_cache(wrapped)


@_handle
def collection(request: HttpRequest) -> HttpResponse:
    """POST /uploads/: create an upload (tus creation extension), with its first bytes or
    all of them in the same request (creation-with-upload)."""
    if request.method != "POST":
        raise TusError(405, _("Use POST to create an upload."), Allow="POST, OPTIONS")
    user = request.user
    if "Upload-Defer-Length" in request.headers:
        raise TusError(400, _("The file size must be known when the upload starts."))
    length = _non_negative_int(request.headers.get("Upload-Length"), "Upload-Length")
    if length > settings.MAX_UPLOAD_BYTES:
        raise TusError(
            413,
            _("The file is larger than the server allows (%(limit)s).")
            % {"limit": _megabytes(settings.MAX_UPLOAD_BYTES)},
        )
    try:
        metadata = parse_metadata(request.headers.get("Upload-Metadata", ""))
    except ValueError as exc:
        raise TusError(400, _("Malformed Upload-Metadata header.")) from exc
    for key in SERVER_KEYS:
        metadata.pop(key, None)
    purpose = get_purpose(metadata.get("purpose", ""))
    if purpose is None:
        raise TusError(400, _("Upload-Metadata must name a known purpose."))
    filename = safe_filename(metadata.get("filename", "") or metadata.get("name", ""))
    metadata["filename"] = filename
    refusal = file_type_refusal(filename)
    if refusal:
        raise TusError(415, refusal)
    # creation-with-upload: the first bytes, or all of them, come with the creation.
    with_upload = request.content_type == "application/offset+octet-stream"
    sent = _body_length(request, length) if with_upload else 0
    if sent > CREATION_BODY_IN_MEMORY:
        upload = _create_streaming(request, user, purpose, metadata, length, sent)
    else:
        body = _read_creation_body(request, sent)
        if with_upload and len(body) == length:
            upload = _store_at_once(user, purpose, metadata, body)
        else:
            upload = _create(user, purpose, metadata, length, body)
    headers = {"Upload_Offset": str(upload.offset)}
    if upload.completed_at is not None:
        headers["Kreide_Upload_Result"] = json.dumps(upload.result, ensure_ascii=True)
    # storage:upload is the collection's URL and the id: reversing it each time would cost
    # more than the rest of the answer.
    location = request.build_absolute_uri(f"{fixed_url('storage:uploads')}{upload.pk}")
    return tus_response(201, Location=location, **headers)


def _body_length(request: HttpRequest, length: int) -> int:
    declared = request.META.get("CONTENT_LENGTH") or "0"
    sent = _non_negative_int(declared, "Content-Length")
    if sent > length:
        raise TusError(413, _("More data than the announced Upload-Length."))
    return sent


def _read_creation_body(request: HttpRequest, sent: int) -> bytes:
    """The bytes sent with a creation, checksum verified. A body that arrives incomplete
    keeps nothing: its client never learns the new upload's address."""
    checksum = _parse_checksum(request.headers.get("Upload-Checksum")) if sent else None
    chunks, received = [], 0
    with contextlib.suppress(OSError):  # the client went away: counted below
        while received < sent:
            chunk = request.read(sent - received)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    body = b"".join(chunks)
    if len(body) < sent:
        raise TusError(400, _("The chunk arrived incomplete; nothing of it was kept."))
    if checksum and CHECKSUMS[checksum[0]](body).digest() != checksum[1]:
        raise TusError(STATUS_CHECKSUM_MISMATCH, _("Checksum mismatch: the chunk was refused."))
    return body


def _new_upload(user, purpose: UploadPurpose, metadata: dict[str, str], length: int, **fields):
    # A new instance of the user's school: a scoped queryset's create() would first build
    # a school filter that an INSERT never uses.
    return Upload(
        school_id=user.school_id,
        user=user,
        purpose=purpose.name,
        filename=metadata["filename"],
        filetype=metadata.get("filetype", "")[:255],
        metadata=metadata,
        length=length,
        **fields,
    )


# A whole upload's row, written once it is complete, with the start time it was given.
_RECORD = PreparedInsert(Upload)


def _create(user, purpose: UploadPurpose, metadata: dict[str, str], length: int, body: bytes):
    """A resumable upload holding `body` (its first bytes, maybe none) in its part file."""
    with transaction.atomic():
        _reserve(user, length)
        purpose.authorize(user, metadata, length)
        upload = _new_upload(user, purpose, metadata, length, offset=len(body))
        upload.save(force_insert=True)
        with full_disk_refused(), open(part_path(upload), "wb") as part:
            if body:
                part.write(body)
                part.flush()
                os.fsync(part.fileno())
    return upload


def _create_streaming(
    request: HttpRequest, user, purpose: UploadPurpose, metadata: dict[str, str], length, sent
) -> Upload:
    """A creation with more bytes than are read into memory: they go to the part file as a
    PATCH's would; if they arrive incomplete or damaged, the upload is forgotten again."""
    upload = _create(user, purpose, metadata, length, b"")
    checksum = _parse_checksum(request.headers.get("Upload-Checksum"))
    try:
        with _locked_part(upload) as fd:
            _append(request, upload, fd, checksum, sent)
            if upload.offset < sent:
                raise TusError(400, _("The chunk arrived incomplete; nothing of it was kept."))
            _adopt_if_complete(upload, fd)
    except BaseException:
        part_path(upload).unlink(missing_ok=True)
        upload.delete()
        raise
    if upload.blob_id is not None:
        complete(upload, user)
    return upload


def _store_at_once(user, purpose: UploadPurpose, metadata: dict[str, str], body: bytes) -> Upload:
    """A whole file sent with its creation: authorised, stored and handed to its purpose in
    one transaction. It is never an unfinished upload, so it reserves no room beside the
    others (the disk check still counts what they have to send)."""
    uploads: list[Upload] = []

    def store() -> Stored:
        check_room(len(body), _promised())
        # A purpose refusing after this rolls the rows back; content put in place for it
        # stays for the collector (another upload of the same bytes may be using it).
        blob = store_bytes(body)
        # Its row is written when the purpose is done, in one INSERT: its id and start
        # time go into the metadata now.
        upload = _new_upload(
            user,
            purpose,
            metadata,
            len(body),
            offset=len(body),
            blob=blob,
            created_at=timezone.now(),
        )
        uploads.append(upload)
        server_keys = {"upload_id": str(upload.pk), "started_at": upload.created_at.isoformat()}
        return blob, {**metadata, **server_keys}

    with transaction.atomic():
        result = purpose.complete_at_once(user, metadata, len(body), store)
        upload = uploads[0]
        upload.result, upload.completed_at = result, timezone.now()
        upload.updated_at = upload.completed_at
        _RECORD.insert(upload)
    return upload


def _promised() -> int:
    """Bytes that unfinished uploads touched lately still have to send (asked by every
    upload: the SQL is written once, not built by the ORM each time)."""
    since = connection.ops.adapt_datetimefield_value(timezone.now() - DISK_RESERVATION)
    with connection.cursor() as cursor:
        cursor.execute(_promised_sql(), [since])
        return cursor.fetchone()[0] or 0


@functools.cache
def _promised_sql() -> str:
    column = {
        name: connection.ops.quote_name(Upload._meta.get_field(name).column)
        for name in ("length", "offset", "blob", "updated_at")
    }
    table = connection.ops.quote_name(Upload._meta.db_table)
    # Names from the model; the time is a parameter.
    return (
        f"SELECT SUM({column['length']} - {column['offset']}) FROM {table} "  # noqa: S608
        f"WHERE {column['blob']} IS NULL AND {column['updated_at']} >= %s"
    )


def _reserve(user, length: int) -> None:
    """Refuse an upload the account or the disk has no room for, counting every unfinished
    upload at its declared length (call in a transaction: the account stays locked until
    the new upload is recorded, so parallel creations are counted one after the other)."""
    get_user_model()._base_manager.select_for_update().only("pk").get(pk=user.pk)
    unfinished = Upload.objects.for_school(user.school_id).filter(user=user, completed_at=None)
    mine = unfinished.aggregate(count=Count("pk"), total=Sum("length"))
    if mine["count"] >= settings.UPLOAD_UNFINISHED_MAX:
        raise TusError(
            429,
            _(
                "You have %(count)s unfinished uploads. Please wait until they are done "
                "(or cancel some) before starting another."
            )
            % {"count": mine["count"]},
            Retry_After=str(UNFINISHED_RETRY_AFTER),
        )
    # One file alone is bounded by MAX_UPLOAD_BYTES; this bounds what is under way beside it.
    if mine["total"] and mine["total"] + length > settings.UPLOAD_UNFINISHED_BYTES:
        raise TusError(
            429,
            _(
                "Your unfinished uploads already hold %(held)s; at most %(limit)s may be "
                "under way at once. Please wait until they are done (or cancel some)."
            )
            % {
                "held": filesizeformat(mine["total"]),
                "limit": filesizeformat(settings.UPLOAD_UNFINISHED_BYTES),
            },
            Retry_After=str(UNFINISHED_RETRY_AFTER),
        )
    check_room(length, _promised())


def _get_upload(request: HttpRequest, upload_id) -> Upload:
    user = request.user
    upload = Upload.objects.for_school(user.school_id).filter(pk=upload_id, user=user).first()
    if upload is None:
        raise TusError(404, _("This upload does not exist (any more)."))
    return upload


@_handle
def resource(request: HttpRequest, upload_id) -> HttpResponse:
    """HEAD, PATCH and DELETE on one upload."""
    upload = _get_upload(request, upload_id)
    method = _method(request)
    if method == "HEAD":
        return tus_response(200, Upload_Offset=str(upload.offset), Upload_Length=str(upload.length))
    if method == "PATCH":
        return _patch(request, upload)
    if method == "DELETE":
        return _terminate(upload)
    raise TusError(405, _("Method not allowed."), Allow="HEAD, PATCH, DELETE, OPTIONS")


@contextlib.contextmanager
def _locked_part(upload: Upload) -> Iterator[int | None]:
    """The part file, opened and exclusively locked; None when it is gone (adopted)."""
    try:
        fd = os.open(part_path(upload), os.O_RDWR)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise TusError(423, _("This upload is busy; please try again.")) from exc
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def _patch(request: HttpRequest, upload: Upload) -> HttpResponse:
    if request.content_type != "application/offset+octet-stream":
        raise TusError(415, _("PATCH needs Content-Type application/offset+octet-stream."))
    offset = _non_negative_int(request.headers.get("Upload-Offset"), "Upload-Offset")
    checksum = _parse_checksum(request.headers.get("Upload-Checksum"))
    declared = request.META.get("CONTENT_LENGTH") or None
    declared = _non_negative_int(declared, "Content-Length") if declared else None
    with _locked_part(upload) as fd:
        upload.refresh_from_db()
        if offset != upload.offset:
            raise TusError(
                409,
                _("Offset mismatch: the server has %(offset)s bytes.") % {"offset": upload.offset},
                Upload_Offset=str(upload.offset),
            )
        if fd is not None and upload.blob_id is None:
            _append(request, upload, fd, checksum, declared)
        _adopt_if_complete(upload, fd)
    headers = {"Upload_Offset": str(upload.offset)}
    if upload.blob_id is not None:
        headers["Kreide_Upload_Result"] = json.dumps(
            complete(upload, request.user), ensure_ascii=True
        )
    return tus_response(204, **headers)


def _adopt_if_complete(upload: Upload, fd: int | None) -> None:
    """Move a fully received part file into the blob store (under the part's lock)."""
    if upload.offset != upload.length or upload.blob_id is not None:
        return
    if fd is None:
        raise TusError(410, _("The upload's data is gone; please upload the file again."))
    upload.blob = store_path(part_path(upload))
    upload.save(update_fields=["blob", "updated_at"])


def _append(request, upload: Upload, fd: int, checksum, declared: int | None) -> None:
    """Write the request body at the upload's offset; record how far it got."""
    remaining = upload.length - upload.offset
    if declared is not None and declared > remaining:
        raise TusError(413, _("More data than the announced Upload-Length."))
    # Bytes beyond the recorded offset (from a crash mid-write) were never confirmed.
    os.ftruncate(fd, upload.offset)
    os.lseek(fd, upload.offset, os.SEEK_SET)
    digest = CHECKSUMS[checksum[0]]() if checksum else None
    written, interrupted = 0, False
    try:
        with full_disk_refused():
            while written < remaining:
                try:
                    chunk = request.read(min(READ_CHUNK, remaining - written))
                except OSError:  # the client went away mid-chunk: keep what arrived
                    interrupted = True
                    break
                if not chunk:
                    break
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
                if digest:
                    digest.update(chunk)
                written += len(chunk)
            os.fsync(fd)
    except StorageFull:
        os.ftruncate(fd, upload.offset)  # none of the chunk: its blocks go back at once
        raise
    if declared is not None and written < declared:
        interrupted = True
    if digest and (interrupted or digest.digest() != checksum[1]):
        os.ftruncate(fd, upload.offset)
        if interrupted:
            raise TusError(400, _("The chunk arrived incomplete; nothing of it was kept."))
        raise TusError(
            STATUS_CHECKSUM_MISMATCH,
            _("Checksum mismatch: the chunk was refused."),
            Upload_Offset=str(upload.offset),
        )
    upload.offset += written
    upload.save(update_fields=["offset", "updated_at"])


def complete(upload: Upload, user) -> dict:
    """Hand an adopted upload to its purpose, exactly once; returns the purpose's result.
    `user` is the upload's owner, signed in (no query for `upload.user`)."""
    if upload.completed_at is not None:
        return upload.result
    purpose = get_purpose(upload.purpose)
    if purpose is None:
        raise TusError(409, _("This kind of upload is no longer accepted."))
    try:
        with transaction.atomic():
            locked = (
                Upload.unscoped.select_for_update(of=("self",))
                .select_related("blob")
                .get(pk=upload.pk)
            )
            if locked.completed_at is None:
                metadata = {
                    **locked.metadata,
                    "upload_id": str(locked.pk),
                    "started_at": locked.created_at.isoformat(),
                }
                locked.result = purpose.complete(user, locked.blob, locked.filename, metadata)
                locked.completed_at = timezone.now()
                locked.save(update_fields=["result", "completed_at", "updated_at"])
    except UploadRefused:
        # Refused at the end (the task closed meanwhile, the folder filled up): nothing
        # will ever take this content, so it stops holding quota and disk at once.
        Upload.unscoped.filter(pk=upload.pk, completed_at=None).delete()
        collector.release(locked.blob)
        raise
    upload.result, upload.completed_at = locked.result, locked.completed_at
    return upload.result


def _terminate(upload: Upload) -> HttpResponse:
    with _locked_part(upload) as fd:
        if fd is not None:
            part_path(upload).unlink(missing_ok=True)
        upload.delete()
    return tus_response(204)


@_handle
def result(request: HttpRequest, upload_id) -> HttpResponse:
    """GET /uploads/<id>/result: the purpose's result once the upload is complete."""
    if request.method != "GET":
        raise TusError(405, _("Method not allowed."), Allow="GET")
    upload = _get_upload(request, upload_id)
    if upload.blob_id is None and upload.offset == upload.length:
        # A client that saw the last PATCH fail learns from HEAD that all bytes arrived
        # and asks here; finish the adoption the failed request could not.
        with _locked_part(upload) as fd:
            upload.refresh_from_db()
            _adopt_if_complete(upload, fd)
    if upload.blob_id is None:
        return JsonResponse(
            {"complete": False, "offset": upload.offset, "length": upload.length}, status=409
        )
    return JsonResponse(complete(upload, request.user))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"
