"""The restore drill: scripts/backup.sh and scripts/restore.sh on a live deployment."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from kreide.accounts.models import User
from kreide.schools.models import Group, School
from kreide.storage.blobstore import store_bytes
from tests.transfer.conftest import pg_url

SCRIPTS = Path(settings.BASE_DIR) / "scripts"


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("KREIDE_")}
    return subprocess.run(
        [str(SCRIPTS / script), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _tree(root: Path) -> dict[str, bytes]:
    """The store's files; collect.lock (backup vs. `purge-blobs`) is no content."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "collect.lock"
    }


def _table_digests(url: str) -> dict[str, str]:
    """Per table of the public schema: row count and an md5 over all rows in order."""
    with psycopg.connect(url) as pg:
        tables = [
            row[0]
            for row in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        digests = {}
        for table in tables:
            digests[table] = pg.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "  # noqa: S608
                f'FROM "{table}" t'
            ).fetchone()
    return digests


@pytest.mark.django_db(transaction=True)
def test_postgres_backup_restores_into_a_fresh_database(fresh_pg_database, tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL drill needs the tests on PostgreSQL")
    settings.STORAGE_DIR = tmp_path / "blobs"
    school = School.objects.create(name="Drill-Schule", slug="drill")
    Group.unscoped.create(school=school, name="5a", grade=5)
    User.objects.create_user("drill.admin", password="geheim-123", school=school)
    blob = store_bytes(b"Zeugnis\x00\xff")
    source = pg_url(connection.settings_dict["NAME"])
    deployment = {
        "KREIDE_DATABASE_URL": source,
        "KREIDE_DATA_DIR": str(tmp_path / "data"),
        "KREIDE_STORAGE_DIR": str(settings.STORAGE_DIR),
    }

    backup = _run("backup.sh", str(tmp_path / "backups"), env=deployment)
    assert backup.returncode == 0, backup.stderr
    backup_dir = Path(backup.stdout.strip())
    assert backup_dir.name.startswith("kreide-") and (backup_dir / "database.dump").exists()
    assert (
        f"blobs/{blob.sha256[:2]}/{blob.sha256[2:4]}/{blob.sha256}"
        in (backup_dir / "SHA256SUMS").read_text()
    )

    target = {
        "KREIDE_DATABASE_URL": fresh_pg_database,
        "KREIDE_DATA_DIR": str(tmp_path / "restored"),
        "KREIDE_STORAGE_DIR": str(tmp_path / "restored" / "blobs"),
    }
    restore = _run("restore.sh", str(backup_dir), env=target)
    assert restore.returncode == 0, restore.stderr

    restored = _table_digests(fresh_pg_database)
    assert restored == _table_digests(source)
    assert restored["schools_school"][0] == 1 and restored["accounts_user"][0] == 1
    assert _tree(tmp_path / "restored" / "blobs") == _tree(settings.STORAGE_DIR)
    again = _run("restore.sh", str(backup_dir), env=target)
    assert again.returncode != 0
    assert "already holds Kreide tables; pass --force" in again.stderr


def _sqlite_deployment(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "kreide.sqlite3") as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
        db.executemany("INSERT INTO note (text) VALUES (?)", [("Aufgabe",), ("Lösung",)])
    blob = data_dir / "blobs" / "ab" / "cd" / ("abcd" + "0" * 60)
    blob.parent.mkdir(parents=True)
    blob.write_bytes(b"Inhalt")
    (data_dir / "secret_key").write_text("geheim")


def test_sqlite_backup_restores_and_a_damaged_backup_restores_nothing(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    _sqlite_deployment(source)
    backup = _run("backup.sh", str(tmp_path / "backups"), env={"KREIDE_DATA_DIR": str(source)})
    assert backup.returncode == 0, backup.stderr
    backup_dir = Path(backup.stdout.strip())

    damaged = tmp_path / "damaged"
    subprocess.run(["cp", "-a", str(backup_dir), str(damaged)], check=True)
    next((damaged / "blobs").rglob("abcd*")).write_bytes(b"inhalt")
    refused = _run("restore.sh", str(damaged), env={"KREIDE_DATA_DIR": str(target)})
    assert refused.returncode != 0
    assert "checksums do not match" in refused.stderr
    assert not target.exists()

    restored = _run("restore.sh", str(backup_dir), env={"KREIDE_DATA_DIR": str(target)})
    assert restored.returncode == 0, restored.stderr
    with sqlite3.connect(target / "kreide.sqlite3") as db:
        assert db.execute("SELECT text FROM note ORDER BY id").fetchall() == [
            ("Aufgabe",),
            ("Lösung",),
        ]
    assert _tree(target / "blobs") == _tree(source / "blobs")
    assert (target / "secret_key").read_text() == "geheim"
