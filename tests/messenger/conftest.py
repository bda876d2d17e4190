"""Messenger fixtures: class rooms for the `world`, and a real ASGI server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from kreide.core.management.commands.serve import realtime_command
from kreide.messenger import services
from tests.ports import free_port


@pytest.fixture
def rooms(world):
    """The class rooms of 7a, 7b and the other school's 7a, in step with the roster."""

    class Rooms:
        pass

    r = Rooms()
    r.class_7a = services.sync_group_room(world.class_7a)
    r.class_7b = services.sync_group_room(world.class_7b)
    r.other = services.sync_group_room(world.other_class)
    return r


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker) -> str:
    """uvicorn serving kreide.asgi on a free loopback port, on the tests' database.

    Returns the base ws:// URL. The process is started once per test session and stopped
    by its PID."""
    if connection.vendor != "postgresql":
        pytest.skip("the ASGI server process needs the PostgreSQL test database")
    port = free_port()
    env = {
        **os.environ,
        "KREIDE_DATABASE_URL": _database_url(),
        "KREIDE_DB_CONN_MAX_AGE": "0",
        "KREIDE_MESSENGER_RATE_LIMIT": "8",
    }
    process = subprocess.Popen(
        # The command line of `kreide serve`'s real-time process.
        realtime_command(Path(sys.executable).parent, "127.0.0.1", port),
        env=env,
        cwd=Path(settings.BASE_DIR),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"uvicorn exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("uvicorn did not start within 30 s")
                time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
