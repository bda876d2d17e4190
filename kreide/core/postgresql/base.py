"""Django's PostgreSQL backend with a health check that costs no round trip.

Django checks a kept connection (CONN_HEALTH_CHECKS) at its first use in each request
with a `SELECT 1`: ~200 µs of Kreide's CPU and a PostgreSQL statement on every request
that touches the database. A connection that PostgreSQL ended — a restart, a failover's
immediate stop, `pg_terminate_backend`, an idle timeout — shows it on its socket before
any query: the server's last message or the closed socket make it readable. An idle
connection whose socket has nothing to read is as good as a `SELECT 1` could tell; any
other state gets Django's `SELECT 1`, which drops a connection that fails it. (A server
gone without a word, its host powered off, hangs a `SELECT 1` as it hangs the query.)
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and _idle_and_silent(self.connection.pgconn)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()


def _idle_and_silent(pgconn: pq.abc.PGconn) -> bool:
    """Open, outside a transaction, and nothing from the server waiting on the socket
    (no error, notice, notification or end of the connection)."""
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
    return not poller.poll(0)  # POLLHUP and POLLERR come without asking
