"""Fixtures for export/import: a school with content in every module, its archive, and
separate deployments (a PostgreSQL database, a SQLite data directory) driven by `kreide`
in a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.conf import settings

from kreide.transfer.exporter import export_school
from tests.transfer.content import Content, add_content


def _target_db() -> str:
    """kreide_transfer_target for this module's own runs (data directory var/transfer*);
    a name of its own for any other run (the whole suite, CI), so runs never collide."""
    run = Path(settings.DATA_DIR).name
    if run.startswith("transfer"):
        return "kreide_transfer_target"
    return "kreide_transfer_target_" + "".join(c if c.isalnum() else "_" for c in run.lower())


def _server() -> dict:
    """The PostgreSQL server the tests may create a database on: the test database's
    own, else KREIDE_TRANSFER_PG_URL (default: local postgres)."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        return {key: database[key] for key in ("HOST", "PORT", "USER", "PASSWORD")}
    url = os.environ.get("KREIDE_TRANSFER_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = dj_database_url.parse(url)
    return {key: parsed[key] for key in ("HOST", "PORT", "USER", "PASSWORD")}


def pg_url(name: str) -> str:
    server = _server()
    password = f":{server['PASSWORD']}" if server["PASSWORD"] else ""
    return f"postgres://{server['USER']}{password}@{server['HOST']}:{server['PORT'] or 5432}/{name}"


def _admin(statement: str) -> None:
    with psycopg.connect(pg_url("postgres"), autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture
def fresh_pg_database():
    """An empty database on the PostgreSQL server, dropped afterwards."""
    name = _target_db()
    try:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server for the target deployment: {error}")
    _admin(f"CREATE DATABASE {name}")
    yield pg_url(name)
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def kreide(
    *args: str, data_dir: Path, database_url: str | None = None, expect_ok: bool = True
) -> subprocess.CompletedProcess:
    """Run `kreide ...` as a separate deployment: its own database and data directory."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KREIDE_")}
    env.update(KREIDE_DATA_DIR=str(data_dir), KREIDE_SECRET_KEY="transfer-tests")
    if database_url:
        env["KREIDE_DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "kreide.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=settings.BASE_DIR,
    )
    if expect_ok:
        assert done.returncode == 0, f"kreide {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def blob_store(settings, tmp_path) -> Path:
    """This test's own blob store, so file checks see only its files."""
    settings.STORAGE_DIR = tmp_path / "blobs"
    return settings.STORAGE_DIR


@pytest.fixture
def content(world, blob_store) -> Content:
    return add_content(
        world.school,
        world.admin,
        world.teacher_7a,
        [world.student_7a, world.classmate_7a],
        world.class_7a,
    )


@pytest.fixture
def archive_path(world, content, tmp_path) -> Path:
    path = tmp_path / "nord.kreide.tar"
    export_school(world.school.slug, path)
    return path
