"""CPU, statements and transactions of a small tus upload (a student's submission), in-process.

As `profile_pages.py` (same environment, same demo school): signs in as the demo student,
finds the first of their tasks that takes files, warms up, then uploads N files of --size
bytes as the browser's uploader does (one `POST /uploads/` with creation-with-upload and
the session's CSRF token) and prints per upload: CPU of this process (time.process_time)
and of its PostgreSQL backend (/proc/<pid>/schedstat, when PostgreSQL runs on this
machine), SQL statements and transactions, Redis round trips and Python function calls
(cProfile over a few extra uploads). Each upload sends new random content (a new blob:
written, fsynced and renamed into place) unless --same-content.

    .venv/bin/python bench/pages/profile_tus.py -n 100
    .venv/bin/python bench/pages/profile_tus.py --profile --top 30   # cProfile listing

Every upload adds a file to the student's draft of that task (remove them with the
task page, or seed the database again).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from profile_pages import HOST, TASK_LINK, RedisTrips, sign_in  # noqa: E402  (sets Django up)

UPLOAD_MARK = 'data-upload-purpose="task-submission"'
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
CALL_SAMPLES = 5


class Transactions:
    """Counts the transactions PostgreSQL runs for the connection: each statement outside
    an atomic block is one (autocommit), each COMMIT or ROLLBACK of a block another."""

    def __init__(self) -> None:
        self.count = 0

    def _statement(self, execute, sql, params, many, context):
        if not connection.in_atomic_block:
            self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> Transactions:
        self._wrapper = connection.execute_wrapper(self._statement)
        self._wrapper.__enter__()
        self._commit, self._rollback = connection._commit, connection._rollback

        def ended(original):
            def end() -> None:
                self.count += 1
                original()

            return end

        connection._commit, connection._rollback = ended(self._commit), ended(self._rollback)
        return self

    def __exit__(self, *exc: object) -> None:
        connection._commit, connection._rollback = self._commit, self._rollback
        self._wrapper.__exit__(*exc)


def backend_pid() -> int | None:
    """The process id of this connection's PostgreSQL backend (None for another database)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def cpu_ns(pid: int | None) -> int | None:
    """CPU time of a process so far (None if not readable: PostgreSQL on another host)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) if pid else None
    except OSError:
        return None


class Uploader:
    def __init__(self, client: Client, task_id: str, size: int, same_content: bool) -> None:
        self.client, self.task_id, self.size = client, task_id, size
        self.content = os.urandom(size) if same_content else None
        page = client.get(f"/tasks/{task_id}/", **HOST).content.decode()
        self.csrf = CSRF_HEADER.search(page).group(1)
        self.count = 0

    def upload(self) -> None:
        self.count += 1
        metadata = {
            "purpose": "task-submission",
            "task": self.task_id,
            "filename": f"loesung-{self.count}.pdf",
            "filetype": "application/pdf",
        }
        data = self.content or os.urandom(self.size)
        response = self.client.post(
            "/uploads/",
            data,
            content_type="application/offset+octet-stream",
            HTTP_TUS_RESUMABLE="1.0.0",
            HTTP_X_CSRFTOKEN=self.csrf,
            HTTP_UPLOAD_LENGTH=str(len(data)),
            HTTP_UPLOAD_METADATA=",".join(
                f"{key} {base64.b64encode(value.encode()).decode()}"
                for key, value in metadata.items()
            ),
            **HOST,
        )
        if response.status_code != 201 or response["Upload-Offset"] != str(len(data)):
            sys.exit(f"upload answered {response.status_code}: {response.content[:300]!r}")


def upload_task(client: Client) -> str:
    ids = TASK_LINK.findall(client.get("/tasks/", **HOST).content.decode())
    for task_id in ids:
        if UPLOAD_MARK in client.get(f"/tasks/{task_id}/", **HOST).content.decode():
            return task_id
    sys.exit("the student has no open task that takes files")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=50, help="uploads timed (default 50)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--size", type=int, default=100 * 1024, help="bytes (default 100 KiB)")
    parser.add_argument("--user", help="student username (default: the demo sample student)")
    parser.add_argument("--same-content", action="store_true", help="one content for all")
    parser.add_argument("--profile", action="store_true", help="a cProfile listing (CPU time)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    if args.user:
        username = args.user
    else:
        from kreide.schools.demo import demo_logins

        username = demo_logins().student
    client = Client(enforce_csrf_checks=True)
    client.handler.enforce_csrf_checks = False
    sign_in(client, username)
    client.handler.enforce_csrf_checks = True
    uploader = Uploader(client, upload_task(client), args.size, args.same_content)
    for _ in range(args.warmup):
        uploader.upload()

    if args.profile:
        # CPU time, not wall time: waiting for PostgreSQL and fsync is not Kreide's CPU.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.n):
            uploader.upload()
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"cProfile of {args.n} uploads: {stats.total_calls / args.n:,.0f} calls each")
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        return

    with (
        CaptureQueriesContext(connection) as queries,
        Transactions() as transactions,
        RedisTrips() as trips,
    ):
        uploader.upload()
    statements = [query["sql"] for query in queries.captured_queries]
    cpus, backend, pid = [], [], backend_pid()
    for _ in range(args.n):
        before_backend = cpu_ns(pid)
        cpu = time.process_time()
        uploader.upload()
        cpus.append(time.process_time() - cpu)
        after_backend = cpu_ns(pid)
        if before_backend is not None and after_backend is not None:
            backend.append((after_backend - before_backend) / 1e6)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(CALL_SAMPLES):
        uploader.upload()
    profiler.disable()
    calls = pstats.Stats(profiler).total_calls / CALL_SAMPLES

    print(f"student {username}, task {uploader.task_id}, {args.size:,} bytes per upload")
    print(f"{'same content each time' if args.same_content else 'new content each time'}\n")
    print(
        "| CPU ms Kreide (mean / p50) | PostgreSQL backend CPU ms (p50) | statements "
        "| transactions | Redis round trips | calls |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| {statistics.mean(cpus) * 1000:.1f} / {statistics.median(cpus) * 1000:.1f} "
        f"| {statistics.median(backend) if backend else float('nan'):.2f} | {len(statements)} "
        f"| {transactions.count} | {trips.count} | {calls:,.0f} |"
    )
    print("\nStatements of one upload:")
    for sql in statements:
        print(f"  {sql[:160]}")


if __name__ == "__main__":
    main()
