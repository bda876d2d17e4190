"""A PostgreSQL primary with a streaming replica on free loopback ports under a temporary
directory, from Debian's postgresql-15 binaries (never the machine's own cluster): what
tests/deploy/test_database_failover.py fails over and docs/scale-out.md describes.

Replication is synchronous (`synchronous_standby_names = '*'`): a commit returns only when
the replica has the WAL on disk, so what Kreide acknowledged survives the primary's loss.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: str) -> str:
    """PostgreSQL's tools refuse to run as root: run them as the postgres user then."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}")
    return done.stdout


@dataclass
class Server:
    directory: Path
    port: int

    def ctl(self, *arguments: str) -> str:
        return _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.directory), "-w", "-t", "60", *arguments
        )

    def start(self) -> None:
        self.ctl("-l", str(self.directory / "server.log"), "start")

    def sql(self, statement: str, database: str = "postgres") -> str:
        return _as_postgres(
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database,
            "-At", "-c", statement,
        )  # fmt: skip


class PostgresPair:
    """`primary` streams to `replica`; `url` names both, libpq picks the one taking writes."""

    def __init__(self, database: str = "kreide") -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kreide-pg-"))
        self.database = database
        self.primary = Server(self.root / "primary", _free_port())
        self.replica = Server(self.root / "replica", _free_port())

    @property
    def url(self) -> str:
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.replica.port}"
        return f"postgres://postgres@{hosts}/{self.database}?target_session_attrs=read-write"

    def start(self) -> None:
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        _as_postgres(
            str(PG_BIN / "initdb"), "-D", str(self.primary.directory), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with (self.primary.directory / "postgresql.conf").open("a") as config:
            config.write(
                f"port = {self.primary.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nmax_connections = 200\n"
                "fsync = on\nwal_level = replica\nhot_standby = on\n"
            )
        self.primary.start()
        self.primary.sql(f"CREATE DATABASE {self.database}")
        _as_postgres(
            str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
            "-U", "postgres", "-D", str(self.replica.directory), "-R", "-X", "stream",
            "--checkpoint=fast",  # not wait up to checkpoint_timeout for the next one
        )  # fmt: skip
        with (self.replica.directory / "postgresql.conf").open("a") as config:
            config.write(f"port = {self.replica.port}\n")
        self.replica.start()
        # Only now, so the replica's copy of the settings does not wait for a standby of
        # its own once promoted.
        self.primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
        self.primary.sql("SELECT pg_reload_conf()")

    def fail_over(self) -> None:
        """The primary dies (immediate stop: no clean shutdown, like a crash); the replica
        is promoted and takes writes."""
        self.primary.ctl("-m", "immediate", "stop")
        self.replica.ctl("promote")

    def stop(self) -> None:
        for server in (self.primary, self.replica):
            with contextlib.suppress(RuntimeError):  # not running (any more)
                server.ctl("-m", "fast", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
