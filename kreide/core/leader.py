"""One of each per deployment: jobs that must run on one node only (docs/scale-out.md).

The status sampler, the scheduled news announcer, the nightly housekeeping and the room
syncs run on every node's `kreide serve` or timer, but only the node holding the job's
PostgreSQL advisory lock does the work. The lock belongs to a database connection of its
own: when its process dies or loses the database, PostgreSQL releases it and the next node
that asks takes over. No home-made cluster: the database every node already needs decides.
On SQLite (the embedded single-server default) the one node always leads.
"""

from __future__ import annotations

import contextlib
import logging
import select
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

logger = logging.getLogger(__name__)
# The advisory lock space is shared with anything else on the database: Kreide's keys
# carry a fixed first half ("kreide" jobs), the job's name gives the second.
NAMESPACE = 0x4B524549  # "KREI"


def lock_key(job: str) -> int:
    return zlib.crc32(job.encode()) - 2**31  # a signed 32-bit integer, as PostgreSQL wants


class Leadership:
    """Whether this process runs `job` for the whole deployment, asked again each round.
    `listen`: channels the lock's connection LISTENs on while it leads, for `wait()`."""

    def __init__(self, job: str, listen: Iterable[str] = ()) -> None:
        self.job = job
        self.listen = tuple(listen)
        self.connection: Any = None
        self.leading = False

    @property
    def embedded(self) -> bool:
        return connections[DEFAULT_DB_ALIAS].vendor != "postgresql"

    def held(self) -> bool:
        """True while this process holds the job's lock: keeps it, or tries to take it.
        A lost database connection means the lock is lost too (PostgreSQL released it)."""
        if self.embedded:
            return True
        try:
            if self.connection is None:
                self.connection = self._connect()
            with self.connection.cursor() as cursor:
                if self.leading:
                    cursor.execute("SELECT 1")
                else:
                    cursor.execute(
                        "SELECT pg_try_advisory_lock(%s, %s)", [NAMESPACE, lock_key(self.job)]
                    )
                    self.leading = bool(cursor.fetchone()[0])
                    if self.leading:
                        # Only the leader listens: a follower's notifications would pile up.
                        for channel in self.listen:
                            cursor.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                        logger.info("leading", extra={"job": self.job, "node": settings.NODE_NAME})
        except Exception:  # the database away: nobody here leads until it answers again
            logger.warning("leadership lost", extra={"job": self.job}, exc_info=True)
            self.release()
        return self.leading

    @property
    def listening(self) -> bool:
        """Whether `wait()` wakes on notifications (PostgreSQL, leading, `listen` given)."""
        return bool(self.listen) and self.leading and self.connection is not None

    def wait(self, seconds: float) -> bool:
        """Until a notification on a `listen` channel arrives (True; one sent while this
        process was busy counts too), `seconds` pass, or the lock's connection is lost (the
        next `held()` finds out). Without `listening`: sleeps `seconds`."""
        if not self.listening:
            time.sleep(seconds)
            return False
        try:
            # What came during this process's queries first; then one wait on the socket
            # (psycopg's own wait would wake ten times a second). Each `notifies()` read is
            # consumed to its end: the generator holds the connection's lock until then.
            if list(self.connection.notifies(timeout=0)):
                return True
            readable, _, _ = select.select([self.connection.fileno()], [], [], seconds)
            # Readable: a notification, or the connection's end (raised while reading).
            return bool(readable) and bool(list(self.connection.notifies(timeout=0)))
        except Exception:  # the database away: the lock went with the connection
            logger.warning("leadership lost", extra={"job": self.job}, exc_info=True)
            self.release()
            return False

    def _connect(self) -> Any:
        wrapper = connections[DEFAULT_DB_ALIAS]
        params = wrapper.get_connection_params()
        params["application_name"] = f"kreide {self.job} {settings.NODE_NAME}"[:63]
        connection = wrapper.get_new_connection(params)
        connection.autocommit = True
        return connection

    def release(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                if self.leading:  # at once; the session's end would release it a moment later
                    with self.connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT pg_advisory_unlock(%s, %s)", [NAMESPACE, lock_key(self.job)]
                        )
                self.connection.close()
        self.connection, self.leading = None, False


@contextlib.contextmanager
def exclusive(job: str) -> Iterator[bool]:
    """For a one-shot job (housekeeping, room syncs): True inside when this process got the
    job's lock, False when another node is running it right now."""
    leadership = Leadership(job)
    try:
        yield leadership.held()
    finally:
        leadership.release()


def one_at_a_time(name: str) -> None:
    """Inside a transaction: wait until no other transaction of the deployment holds `name`,
    then hold it until this one ends (a check-then-write that must not interleave across
    processes and nodes). SQLite's write transaction is one at a time already."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [NAMESPACE, lock_key(name)])
