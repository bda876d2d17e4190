"""The shared file store over a real network file system: a GlusterFS volume (Debian's
glusterfs-server) that each of two Kreide nodes mounts through GlusterFS's own FUSE client,
as two machines would (bench/wave/gluster.py, docs/scale-out.md).

First what Kreide relies on is checked on the file system itself (locks and renames between
two clients, fsynced bytes, statvfs), then two whole nodes share it: an upload through one
is read through the other, a tus upload resumes across them, the collector on one removes
what the other stored, and while the file server is dead the file pages say so (503) and
everything else goes on; after its restart nothing is lost."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone, translation

from bench.wave import gluster
from bench.wave.stack import Cluster, scale_out
from kreide.files import services as files
from kreide.files.models import Node
from kreide.messenger import services as messenger
from kreide.storage.blobstore import StoreUnreachable
from kreide.storage.models import Blob, Upload
from tests.deploy import uploads
from tests.faults.conftest import csrf_headers, database_url, signed_in, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.district,
    pytest.mark.skipif(gluster.available() is not None, reason=str(gluster.available())),
]
TIMEOUT = 15


@pytest.fixture
def volume(tmp_path):
    with gluster.gluster_volume(tmp_path / "gluster") as running:
        yield running


def test_what_kreide_relies_on_holds_on_glusterfs(volume, tmp_path):
    """Two clients of one volume: an flock by one excludes the other (tus PATCH, the
    collector's collect.lock); a part file continued by the other client, as tus does it
    (size set to the database's offset, then appended), reads back whole there; a rename
    is seen whole by the other (content under its hash); both see the same free space."""
    one, two = volume.mount(tmp_path / "one"), volume.mount(tmp_path / "two")

    (one / "uploads").mkdir()
    (one / "uploads" / "a.part").write_bytes(b"")
    first = os.open(one / "uploads" / "a.part", os.O_RDWR)
    second = os.open(two / "uploads" / "a.part", os.O_RDWR)
    try:
        fcntl.flock(first, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):
            fcntl.flock(second, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BlockingIOError):  # a backup's shared lock waits for a collection
            fcntl.flock(second, fcntl.LOCK_SH | fcntl.LOCK_NB)
        os.write(first, b"x" * 1000)
        os.fsync(first)
        os.close(first)  # closing releases the lock for the other client too, a moment
        first = None  # later (FUSE sends the release after close returned): tus answers 423
        wait_for(lambda: _try_lock(second), 10, "the other client gets the lock")
    finally:
        for descriptor in (first, second):
            if descriptor is not None:
                os.close(descriptor)
    # The other client's cached size may still be 0 for a second after the write (its
    # attribute cache): tus never trusts it, it sets the size from the database's offset.
    part = os.open(two / "uploads" / "a.part", os.O_RDWR)
    try:
        os.ftruncate(part, 1000)
        os.pwrite(part, b"y" * 500, 1000)
        os.fsync(part)
    finally:
        os.close(part)
    assert (two / "uploads" / "a.part").read_bytes() == b"x" * 1000 + b"y" * 500

    data = os.urandom(1024 * 1024)
    (one / "staging").mkdir()
    (one / "ab" / "cd").mkdir(parents=True)
    with open(one / "staging" / "tmp", "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(one / "staging" / "tmp", one / "ab" / "cd" / "content")
    directory = os.open(one / "ab" / "cd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)  # the rename itself on the server's disk (blobstore.commit)
    finally:
        os.close(directory)
    assert (two / "ab" / "cd" / "content").read_bytes() == data
    assert not (two / "staging" / "tmp").exists()
    # The volume's space on both (other programs write to the brick's disk meanwhile).
    first_view, second_view = shutil.disk_usage(one), shutil.disk_usage(two)
    assert first_view.total == second_view.total
    assert abs(first_view.free - second_view.free) < 256 * 1024 * 1024


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@pytest.fixture
def cluster(volume, tmp_path, static_files) -> Cluster:
    redis_url = os.environ.get("KREIDE_REDIS_URL")
    if not redis_url:
        pytest.skip("several nodes share Redis")
    mounts = [volume.mount(tmp_path / f"mount{number}") for number in (1, 2)]
    with scale_out(
        tmp_path, database_url(), redis_url, storage_dirs=mounts, static_from=static_files
    ) as running:
        yield running


def _download(session: requests.Session, base: str, file_id: int) -> requests.Response:
    return session.get(f"{base}/files/item/{file_id}/download", timeout=TIMEOUT)


def _refused_download(
    session: requests.Session, base: str, file_id: int, sha256: str
) -> tuple[int, str] | None:
    """(status, page) of a download that was not sent; None for one that was, whole."""
    download = _download(session, base, file_id)
    if download.status_code == 200:
        assert _sha256(download.content) == sha256
        return None
    return download.status_code, download.text


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_two_nodes_share_a_glusterfs_store(cluster, volume, world, tmp_path):
    one, two = (node.url for node in cluster.nodes)
    alice = signed_in(one, world.student_7a.username)
    folder = files.root_of(files.personal_space(world.student_7a)).pk

    # A tus upload started through node 1 resumes through node 2; both nodes' nginx send it
    # from their own mount.
    data = os.urandom(3 * 1024 * 1024 + 5)
    created = uploads.create(alice, one, folder, len(data))
    assert created.status_code == 201, created.text
    path = uploads.path_of(created)
    assert uploads.send(alice, one, path, 0, data[:1_000_000]).status_code == 204
    assert uploads.offset(alice, two, path) == 1_000_000
    answer = uploads.send(alice, two, path, 1_000_000, data[1_000_000:])
    assert answer.status_code == 204, answer.text
    file_id = json.loads(answer.headers["Kreide-Upload-Result"])["id"]
    for base in (one, two):
        download = _download(alice, base, file_id)
        assert download.status_code == 200 and _sha256(download.content) == _sha256(data)
    sha256 = _sha256(data)
    stored = [
        mount / sha256[:2] / sha256[2:4] / sha256
        for mount in (tmp_path / "mount1", tmp_path / "mount2")
    ]
    assert all(path.read_bytes() == data for path in stored)

    # Another upload is half sent through node 1 when the file server dies.
    later = os.urandom(2 * 1024 * 1024)
    created = uploads.create(alice, one, folder, len(later))
    assert created.status_code == 201, created.text
    unfinished = uploads.path_of(created)
    assert uploads.send(alice, one, unfinished, 0, later[:1_000_000]).status_code == 204

    room = messenger.sync_group_room(world.class_7a)
    volume.kill_server()
    for base, language in ((one, "de"), (two, "en")):
        alice.cookies.set("django_language", language)
        with translation.override(language):
            message = str(StoreUnreachable().message)
        # For a moment after the server's death a file just read may still come from the
        # client's caches (whole and right); then nginx cannot open it any more.
        status, page = wait_for(
            lambda base=base: _refused_download(alice, base, file_id, sha256),
            15,
            "downloads say the store is away",
        )
        assert status == 503 and message in page
        refused = uploads.send(alice, base, unfinished, 1_000_000, later[1_000_000:])
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert uploads.offset(alice, base, unfinished) == 1_000_000  # nothing half-counted
        # Everything that needs no file goes on: signing in, tasks, files' listing, messages.
        bob = signed_in(base, world.classmate_7a.username)
        assert bob.get(f"{base}/tasks/", timeout=TIMEOUT).status_code == 200
        assert bob.get(f"{base}/files/", timeout=TIMEOUT).status_code == 200
        sent = bob.post(
            f"{base}/messages/rooms/{room.pk}/send",
            json={"text": "Geht das noch?", "key": uuid.uuid4().hex},
            headers=csrf_headers(bob, base),
            timeout=TIMEOUT,
        )
        assert sent.status_code == 201, sent.text
    assert all(state == "UP" for state in cluster.node_states().values())

    # The file server comes back: nothing is lost, the upload goes on where it stopped.
    volume.start_server()
    volume.wait_until_online()
    for base in (one, two):
        assert _sha256(_download(alice, base, file_id).content) == sha256
    answer = uploads.send(alice, two, unfinished, 1_000_000, later[1_000_000:])
    assert answer.status_code == 204, answer.text
    later_id = json.loads(answer.headers["Kreide-Upload-Result"])["id"]
    assert _sha256(_download(alice, one, later_id).content) == _sha256(later)

    # The collector on node 2 removes what node 1 stored once nothing refers to it, and
    # keeps the rest; node 1's mount sees it gone.
    actor = files.Actor(world.student_7a)
    files.trash(actor, Node.objects.for_school(world.school).get(pk=file_id))
    files.purge_trash(days=0)
    Upload.unscoped.filter(blob__sha256=sha256).delete()  # as `kreide purge-uploads` does later
    # Stored two days ago: past the collector's grace period.
    Blob.objects.filter(sha256=sha256).update(stored_at=timezone.now() - timedelta(days=2))
    cluster.nodes[1].kreide("purge-blobs", "--no-progress")
    assert not Blob.objects.filter(sha256=sha256).exists()
    wait_for(lambda: not stored[0].exists(), 10, "node 1's mount sees the content gone")
    assert _sha256(_download(alice, one, later_id).content) == _sha256(later)
