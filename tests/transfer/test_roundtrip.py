"""A school moves between deployments and databases and arrives byte for byte.

The demo school (its schools part: 1,292 accounts, 51 classes and groups) plus content in
every module is exported here, imported into a fresh PostgreSQL deployment by
`kreide import` in a subprocess, exported there, imported into a fresh SQLite deployment,
and exported again: all three manifests agree on everything but the export's own time
and database.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import psycopg
import pytest
from django.contrib.auth.hashers import check_password

from kreide.accounts.models import User
from kreide.schools import demo
from kreide.schools.models import Group, Membership
from kreide.transfer.archive import MANIFEST, parse_manifest
from kreide.transfer.exporter import export_school
from tests.transfer.conftest import kreide
from tests.transfer.content import add_content


def _manifest(path: Path):
    with tarfile.open(path) as tar:
        return parse_manifest(tar.extractfile(MANIFEST).read())


def _files_match(manifest, store: Path) -> None:
    for sha256, size in manifest.blobs:
        data = (store / sha256[:2] / sha256[2:4] / sha256).read_bytes()
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size)


@pytest.fixture
def demo_school(db, blob_store, monkeypatch):
    # Only the schools part of the demo: other modules' content comes from add_content.
    monkeypatch.setattr(demo, "_module_seeders", lambda: [])
    school = demo.create_demo_school()
    group = Group.objects.for_school(school).get(name="7a")
    teacher = group.members.filter(memberships__role=Membership.Role.TEACHER).first()
    students = list(group.members.filter(role=User.Role.STUDENT)[:3])
    admin = User.objects.for_school(school).filter(role=User.Role.SCHOOL_ADMIN).first()
    add_content(school, admin, teacher, students, group)
    return school


# Multi-process (two `kreide import` subprocesses) and ~40 s: run once, in the PostgreSQL
# run (its origin is then PostgreSQL; the SQLite leg is the same).
@pytest.mark.slow
def test_demo_school_moves_sqlite_postgres_sqlite_without_a_byte_lost(
    demo_school, fresh_pg_database, tmp_path
):
    hashes = dict(User.objects.for_school(demo_school).values_list("username", "password"))
    first = tmp_path / "first.tar"
    export_school(demo.DEMO_SLUG, first)

    pg_dir, sqlite_dir = tmp_path / "pg", tmp_path / "sqlite"
    second, third = pg_dir / "second.tar", sqlite_dir / "third.tar"
    kreide("migrate", "-v0", data_dir=pg_dir, database_url=fresh_pg_database)
    done = kreide(
        "import", str(first), "--no-progress", data_dir=pg_dir, database_url=fresh_pg_database
    )
    assert "verified" in done.stdout
    kreide(
        "export",
        "--school",
        demo.DEMO_SLUG,
        str(second),
        "--no-progress",
        data_dir=pg_dir,
        database_url=fresh_pg_database,
    )

    kreide("migrate", "-v0", data_dir=sqlite_dir)
    kreide("import", str(second), "--no-progress", data_dir=sqlite_dir)
    kreide("export", "--school", demo.DEMO_SLUG, str(third), "--no-progress", data_dir=sqlite_dir)

    manifests = [_manifest(path) for path in (first, second, third)]
    assert manifests[0].comparable() == manifests[1].comparable() == manifests[2].comparable()
    assert manifests[1].raw["exported"]["database"] == "postgresql"
    assert manifests[2].raw["exported"]["database"] == "sqlite"
    # The demo's 1,292 accounts and the parent of add_content.
    assert manifests[0].raw["counts"]["accounts.user"] == len(hashes) == 1293
    for kind in (
        "tasks.submissionfile",
        "files.node",
        "messenger.message",
        "video.chatmessage",
        "news.receipt",
        "news.newsattachment",
        "news.news_groups",
        "notifications.notification",
        "notifications.preferences",
        "notifications.quiethours",
    ):
        assert manifests[0].raw["counts"][kind] > 0, kind

    # Everyone signs in with their old password: the hashes arrived unchanged.
    with psycopg.connect(fresh_pg_database) as connection:
        moved = dict(
            connection.execute(
                "SELECT username, password FROM accounts_user WHERE school_id = "
                "(SELECT id FROM schools_school WHERE slug = %s)",
                [demo.DEMO_SLUG],
            ).fetchall()
        )
    assert moved == hashes
    assert check_password(demo.DEMO_PASSWORD, moved[next(iter(moved))])
    # Every file arrived in each target's own store with its checksum.
    _files_match(manifests[0], pg_dir / "blobs")
    _files_match(manifests[0], sqlite_dir / "blobs")
    assert json.loads(json.dumps(manifests[0].comparable()))  # plain JSON, nothing opaque
