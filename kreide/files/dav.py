"""WebDAV at /dav/: WsgiDAV's protocol engine on top of the same folders, files and blobs
as the web UI (one source of truth).

Layout: /dav/ lists the user's personal folder (named after the username, so every URL
names one resource for everyone, which WebDAV locks rely on) and the folders of the
user's classes and groups. Every change goes through `kreide.files.services`, so
permissions, quotas and name rules are those of the web UI. Dead properties and locks
live in the database (shared by all worker processes).
"""

from __future__ import annotations

import contextvars
import json
import os
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from wsgidav import util, xml_tools
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    HTTP_INSUFFICIENT_STORAGE,
    HTTP_NOT_FOUND,
    HTTP_REQUEST_ENTITY_TOO_LARGE,
    DAVError,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider
from wsgidav.lock_man.lock_manager import normalize_lock_root, validate_lock
from wsgidav.util import etree

from kreide.files import services
from kreide.files.models import DavLock, DeadProperty, Node, Space
from kreide.files.services import Actor, Level
from kreide.storage import collector
from kreide.storage.blobstore import (
    StorageFull,
    check_room,
    full_disk_refused,
    open_blob,
    store_path,
)
from kreide.storage.filenames import safe_filename

# The school of the request being served: lock tokens and paths are per school.
current_school: contextvars.ContextVar[int] = contextvars.ContextVar("dav_school")

_LOCK_PROPERTIES = ("{DAV:}lockdiscovery", "{DAV:}supportedlock")


def _fail_from(error: Exception) -> DAVError:
    if isinstance(error, StorageFull):
        return DAVError(
            HTTP_INSUFFICIENT_STORAGE,
            error.message,
            add_headers=[("Retry-After", str(error.retry_after))],
        )
    if isinstance(error, PermissionDenied):
        return DAVError(HTTP_FORBIDDEN)
    if isinstance(error, services.QuotaExceeded):
        return DAVError(HTTP_INSUFFICIENT_STORAGE, error.message)
    if isinstance(error, services.FileError):
        return DAVError(
            HTTP_BAD_REQUEST if isinstance(error, services.InvalidName) else HTTP_FORBIDDEN,
            error.message,
        )
    raise error


class _Call:
    """Runs a service call and turns its refusals into WebDAV status codes."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        refusals = (PermissionDenied, services.FileError, StorageFull)
        if error is not None and isinstance(error, refusals):
            raise _fail_from(error) from error
        return False


def top_name(space: Space) -> str:
    return space.user.username if space.user_id else safe_filename(space.group.name)


def _actor(environ: dict) -> Actor:
    return environ["kreide.actor"]


def dav_path(node: Node) -> str:
    """The node's WebDAV path (the key its locks are stored under)."""
    ids = node.ancestor_ids()[1:]
    names = dict(
        Node.objects.for_school(node.school_id).filter(pk__in=ids).values_list("pk", "name")
    )
    return "/" + "/".join([top_name(node.space), *(names[pk] for pk in ids)])


def is_locked(node: Node) -> bool:
    """Whether a WebDAV client holds a lock on the node, inside it, or above it (depth
    infinity): the web UI then leaves it alone instead of pulling it from under the client."""
    path = dav_path(node)
    parts = path.split("/")
    above = ["/".join(parts[:end]) for end in range(2, len(parts))]
    live = DavLock.objects.for_school(node.school_id).filter(expire__gte=time.time())
    return live.filter(
        Q(root=path) | Q(root__startswith=path + "/") | Q(root__in=above, data__depth="infinity")
    ).exists()


class _NodeResource:
    """What files and folders share: dead properties, deletion, copy and move."""

    node: Node
    environ: dict
    provider: KreideProvider

    def _check(self, needed: Level) -> None:
        if _actor(self.environ).level(self.node) < needed:
            raise DAVError(HTTP_FORBIDDEN)

    def prevent_locking(self) -> bool:
        # A lock blocks everybody else's writes: only who may write may lock.
        return _actor(self.environ).level(self.node) < Level.WRITE

    def get_creation_date(self) -> float:
        return self.node.created_at.timestamp()

    def get_last_modified(self) -> float:
        return self.node.modified_at.timestamp()

    def _dead(self):
        return DeadProperty.objects.for_school(self.node.school_id).filter(node=self.node)

    def _dead_values(self) -> dict[str, str]:
        # Listings fetch them for all members at once (see FolderResource._children).
        if not hasattr(self.node, "dead_values"):
            self.node.dead_values = dict(self._dead().values_list("name", "value"))
        return self.node.dead_values

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        names = super().get_property_names(is_allprop=is_allprop)
        return names + list(self._dead_values())

    def get_property_value(self, name: str):
        if name.startswith("{DAV:}") or name in _LOCK_PROPERTIES:
            return super().get_property_value(name)
        value = self._dead_values().get(name)
        if value is None:
            raise DAVError(HTTP_NOT_FOUND)
        return xml_tools.string_to_xml(value)

    def set_property_value(self, name: str, value, *, dry_run: bool = False):
        if name.startswith("{DAV:}") or name in _LOCK_PROPERTIES:
            return super().set_property_value(name, value, dry_run=dry_run)
        self._check(Level.WRITE)
        if dry_run:
            return None
        self.node.__dict__.pop("dead_values", None)
        if value is None:
            self._dead().filter(name=name).delete()
        else:
            DeadProperty.objects.for_school(self.node.school_id).update_or_create(
                school_id=self.node.school_id,
                node=self.node,
                name=name,
                defaults={"value": etree.tostring(value).decode()},
            )
        return None

    def remove_all_properties(self, *, recursive: bool) -> None:
        return None  # they stay with the node in the trash and come back on restore

    def delete(self) -> None:
        with _Call():
            services.trash(_actor(self.environ), self.node)
        self.remove_all_locks(recursive=True)

    def _target(self, dest_path: str) -> tuple[Node, str]:
        parent_path, name = util.get_uri_parent(dest_path), util.get_uri_name(dest_path)
        parent = self.provider.get_resource_inst(parent_path, self.environ)
        if not isinstance(parent, FolderResource):
            raise DAVError(HTTP_FORBIDDEN)
        try:
            return parent.node, services.check_name(name)
        except services.InvalidName as error:
            raise _fail_from(error) from error

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        target, name = self._target(dest_path)
        actor = _actor(self.environ)
        existing = services.child(target, name)
        with _Call(), transaction.atomic():
            if is_move and not self.node.is_folder:
                services.move(actor, self.node, target, name)
            elif existing is not None and self.node.is_folder and existing.is_folder:
                # Copying a folder onto a folder keeps the target: only its properties change.
                actor.require(existing, Level.WRITE)
                DeadProperty.objects.for_school(existing.school_id).filter(node=existing).delete()
                services.copy_properties(self.node, existing)
            elif existing is not None and not existing.is_folder and not self.node.is_folder:
                services.replace_content(actor, existing, self.node.blob)
            else:
                services.copy(actor, self.node, target, name, recursive=False)

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str) -> list:
        target, name = self._target(dest_path)
        with _Call():
            services.move(_actor(self.environ), self.node, target, name)
        self.remove_all_locks(recursive=True)
        return []


class _CappedFile:
    """The PUT body on its way to disk; a chunked body (no length announced) is cut off at
    the upload limit instead of filling the disk, and a full disk answers 507."""

    def __init__(self, handle: int, limit: int) -> None:
        self.file, self.size, self.limit = os.fdopen(handle, "wb"), 0, limit

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise DAVError(HTTP_REQUEST_ENTITY_TOO_LARGE)
        with _Call(), full_disk_refused():
            self.file.write(data)

    def close(self) -> None:
        with _Call(), full_disk_refused():
            self.file.close()


class FileResource(_NodeResource, DAVNonCollection):
    def __init__(self, path: str, environ: dict, node: Node, provider: KreideProvider) -> None:
        super().__init__(path, environ)
        self.node, self.provider = node, provider
        self._upload: tuple[int, str] | None = None
        # Made empty by this PUT (WsgiDAV creates the resource before the body arrives):
        # removed again if the content is refused, so no 0-byte file stays behind.
        self.created = False

    def get_content_length(self) -> int:
        return self.node.size

    def get_content_type(self) -> str:
        return util.guess_mime_type(self.node.name)

    def get_etag(self) -> str:
        return f"{self.node.pk}-{self.node.blob.sha256[:32]}"

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self):
        return open_blob(self.node.blob)

    def begin_write(self, *, content_type: str | None = None):
        self._check(Level.WRITE)
        _refuse_over_quota(self.environ, self.node.space, self.node.size)
        staging = Path(settings.STORAGE_DIR) / "staging"
        with _Call(), full_disk_refused():
            check_room(util.get_content_length(self.environ))  # 0 for a chunked body
            staging.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=staging)
        self._upload = (handle, name)
        return _CappedFile(handle, settings.MAX_UPLOAD_BYTES)

    def end_write(self, *, with_errors: bool) -> None:
        """Store the received body as the file's content; on any refusal (permission,
        quota, full disk) the file stays as it was and a file this PUT created is gone."""
        upload, self._upload = self._upload, None
        if with_errors or upload is None:  # refused in begin_write: nothing was received
            if upload is not None:
                Path(upload[1]).unlink(missing_ok=True)
            self._forget_created()
            return
        blob = None
        try:
            with _Call():
                blob = store_path(Path(upload[1]))
                self.node = services.replace_content(_actor(self.environ), self.node, blob)
        except DAVError:
            Path(upload[1]).unlink(missing_ok=True)
            if blob is not None:
                collector.release(blob)
            self._forget_created()
            raise

    def _forget_created(self) -> None:
        if self.created:
            Node.objects.for_school(self.node.school_id).filter(pk=self.node.pk).delete()


class FolderResource(_NodeResource, DAVCollection):
    def __init__(self, path: str, environ: dict, node: Node, provider: KreideProvider) -> None:
        super().__init__(path, environ)
        self.node, self.provider = node, provider

    def _children(self) -> list[Node]:
        found, actor = services.children(self.node), _actor(self.environ)
        dead: dict[int, dict[str, str]] = {node.pk: {} for node in found}
        rows = DeadProperty.objects.for_school(self.node.school_id).filter(node__in=found)
        for node_id, name, value in rows.values_list("node_id", "name", "value"):
            dead[node_id][name] = value
        for node in found:
            node.dead_values = dead[node.pk]
        if actor.level(self.node) >= Level.READ:
            return found
        # A folder the user only passes through to something shared with them.
        return [n for n in found if actor.level(n) >= Level.READ or actor.leads_to_share(n)]

    def get_member_names(self) -> list[str]:
        return [child.name for child in self._children()]

    def get_member_list(self) -> list:
        return [
            self.provider.wrap(util.join_uri(self.path, child.name), child, self.environ)
            for child in self._children()
        ]

    def get_member(self, name: str):
        found = services.child(self.node, name)
        return found and self.provider.wrap(util.join_uri(self.path, name), found, self.environ)

    def create_empty_resource(self, name: str) -> FileResource:
        self._check(Level.WRITE)
        _refuse_over_quota(self.environ, self.node.space, 0)
        with _Call():
            node = services.add_file(
                _actor(self.environ),
                self.node,
                services.check_name(name),
                services.empty_blob(),
                clash="error",
            )
        resource = self.provider.wrap(util.join_uri(self.path, name), node, self.environ)
        resource.created = True
        return resource

    def create_collection(self, name: str) -> FolderResource:
        with _Call():
            node = services.create_folder(
                _actor(self.environ), self.node, services.check_name(name)
            )
        return self.provider.wrap(util.join_uri(self.path, name), node, self.environ)

    def support_recursive_delete(self) -> bool:
        return True

    def delete(self) -> None:
        if self.node.is_root:
            raise DAVError(HTTP_FORBIDDEN)
        super().delete()


class RootResource(DAVCollection):
    """/dav/ itself: the user's spaces, read-only."""

    def __init__(self, environ: dict, provider: KreideProvider) -> None:
        super().__init__("/", environ)
        self.provider = provider

    def _spaces(self) -> dict[str, Space]:
        # Asked several times per request (source, parent, destination): fetched once.
        if "kreide.spaces" not in self.environ:
            actor = _actor(self.environ)
            spaces = services.spaces_for(actor)
            # Spaces of others appear when something in them is shared with the user.
            shared = {space for _path, space, _write in actor.shared} - {s.pk for s in spaces}
            spaces += (
                Space.objects.for_school(actor.school_id)
                .filter(pk__in=shared)
                .select_related("user", "group")
            )
            self.environ["kreide.spaces"] = {top_name(s): s for s in reversed(spaces)}
        return self.environ["kreide.spaces"]

    def get_member_names(self) -> list[str]:
        return sorted(self._spaces())

    def get_member(self, name: str):
        space = self._spaces().get(name)
        if space is None:
            return None
        roots = self.environ.setdefault("kreide.roots", {})  # asked per resolved path
        if space.pk not in roots:
            roots[space.pk] = services.root_of(space)
        return self.provider.wrap(f"/{name}", roots[space.pk], self.environ)

    def get_display_name(self) -> str:
        return "Kreide"

    def prevent_locking(self) -> bool:
        return True


def _refuse_over_quota(environ: dict, space: Space, replaced: int) -> None:
    if environ.get("REQUEST_METHOD") != "PUT":
        return
    try:
        services.check_quota(space, util.get_content_length(environ) - replaced)
    except services.QuotaExceeded as error:
        raise _fail_from(error) from error


class KreideProvider(DAVProvider):
    def wrap(self, path: str, node: Node, environ: dict):
        kind = FolderResource if node.is_folder else FileResource
        return kind(path, environ, node, self)

    def get_resource_inst(self, path: str, environ: dict):
        root = RootResource(environ, self)
        segments = [segment for segment in path.strip("/").split("/") if segment]
        if not segments:
            return root
        actor = _actor(environ)
        resource = root.get_member(segments[0])
        for segment in segments[1:]:
            if not isinstance(resource, FolderResource):
                return None
            resource = resource.get_member(segment)
            hidden = resource is not None and actor.level(resource.node) == Level.NONE
            if hidden and not actor.leads_to_share(resource.node):
                return None
        return resource


class DatabaseLockStorage:
    """WsgiDAV's lock storage interface on the DavLock table, per school."""

    # A forgotten lock (a laptop that went to sleep) must not block a class folder for
    # weeks: clients refresh their locks, so a day is plenty.
    LOCK_TIME_OUT_DEFAULT = 3600
    LOCK_TIME_OUT_MAX = 86400

    def _locks(self):
        return DavLock.objects.for_school(current_school.get())

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def cleanup(self) -> None:
        DavLock.unscoped.filter(expire__lt=time.time()).delete()

    def clear(self) -> None:
        self._locks().delete()

    @staticmethod
    def _load(row: DavLock) -> dict:
        lock = dict(row.data)
        lock["owner"] = lock["owner"].encode()
        return lock

    def get(self, token: str) -> dict | None:
        row = self._locks().filter(token=token).first()
        if row is None:
            return None
        if row.expire < time.time():
            row.delete()
            return None
        return self._load(row)

    def create(self, path: str, lock: dict) -> dict:
        from wsgidav.lock_man.lock_manager import generate_lock_token

        lock["root"] = normalize_lock_root(path)
        timeout = float(lock.get("timeout") or self.LOCK_TIME_OUT_DEFAULT)
        if timeout < 0 or timeout > self.LOCK_TIME_OUT_MAX:
            timeout = self.LOCK_TIME_OUT_MAX
        lock["timeout"], lock["expire"] = timeout, time.time() + timeout
        validate_lock(lock)
        lock["token"] = generate_lock_token()
        self._save(lock, create=True)
        return lock

    def _save(self, lock: dict, create: bool = False) -> None:
        data = json.loads(json.dumps({**lock, "owner": lock["owner"].decode()}))
        if create:
            DavLock.objects.for_school(current_school.get()).create(
                school_id=current_school.get(),
                token=lock["token"],
                root=lock["root"],
                data=data,
                expire=lock["expire"],
            )
        else:
            self._locks().filter(token=lock["token"]).update(data=data, expire=lock["expire"])

    def refresh(self, token: str, *, timeout: float) -> dict:
        lock = self.get(token)
        if lock is None:
            raise ValueError("Lock must exist")
        if timeout < 0 or timeout > self.LOCK_TIME_OUT_MAX:
            timeout = self.LOCK_TIME_OUT_MAX
        lock["timeout"], lock["expire"] = timeout, time.time() + timeout
        self._save(lock)
        return lock

    def delete(self, token: str) -> bool:
        return self._locks().filter(token=token).delete()[0] > 0

    def get_lock_list(
        self, path: str, *, include_root: bool, include_children: bool, token_only: bool
    ) -> list:
        path = normalize_lock_root(path)
        rows = self._locks().filter(expire__gte=time.time())
        if include_root and include_children:
            rows = rows.filter(root=path) | rows.filter(root__startswith=path.rstrip("/") + "/")
        elif include_root:
            rows = rows.filter(root=path)
        else:
            rows = rows.filter(root__startswith=path.rstrip("/") + "/")
        if token_only:
            return list(rows.values_list("token", flat=True))
        return [self._load(row) for row in rows]
