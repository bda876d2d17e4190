"""Sign-ins per second on ONE core against the argon2id bound, with signed-in students served.

    .venv/bin/python bench/login/per_core.py                       # 4 rounds x 15 s, ~3 min
    .venv/bin/python bench/login/per_core.py --reuse --rounds 2    # keep the last database
    .venv/bin/python bench/login/per_core.py --setting KREIDE_ADMISSION_LOGIN_IN_FLIGHT=3

Starts the production stack (nginx + `kreide serve`, PostgreSQL, Redis; bench/wave/stack.py)
on the demo school with the server's whole process tree — Granian's workers, the real-time
process, the background workers and nginx — pinned to one core (`--core`, taskset); this
process keeps to the other cores. PostgreSQL's backends are shared processes and are not
pinned: their CPU is read from /proc like bench/cpu does and reported beside the core's.

Two groups of students, as at 8:00:
- sign-in clients (`--clients`, each a new browser of another demo student who last signed
  in yesterday): GET the form, POST the credentials, as fast as the server takes them. A
  refusal (503 from admission or nginx, 429) is counted and the client waits as the
  waiting page says (Retry-After), then starts again; only successful sign-ins (302)
  count;
- signed-in students (`--page-students`, signed in before the rounds) open the dashboard,
  their task list and a task, in turn, at a steady total rate (`--page-rate` pages/s, on
  a fixed schedule); every answer but 200 is an error.

Each round opens the gate for the sign-in clients, waits `--ramp` s until the pipeline is
full, then measures `--seconds` s: the sign-ins that completed, the refusals, the pages'
latencies, and the CPU of the server's tree and nginx (the pinned core) and of this
database's PostgreSQL backends. Then the gate closes, the sign-ins in flight finish, and a
thread of this process pinned to the same core runs `--argon2` argon2id verifications at
the project's parameters (thread CPU time each): the bound is 1 / t_argon2id, one core's
verifications per second. The ratio, sign-ins/s ÷ bound, is measured in the same run on the
same core, so it holds on a shared, loaded machine better than either figure alone; the
"per CPU second" ratio divides by the CPU the server really got (core and PostgreSQL)
instead of the wall time. The time the server's and PostgreSQL's threads were ready to run
but waited for a CPU (run queue, /proc schedstat) shows how much other work took from them.

The server, nginx and this process run at `--nice` (default -10, as the wave) also against
other sessions (the kernel's autogroups; bench/wave/stack.py `autogroup_nice`): without
that, on the shared machine the server got 29 % of its core and the ratio read 0.16.

Writes bench/results/<date>/<name>.md and .json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import statistics
import sys
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.cpu.run import (  # noqa: E402
    PASSWORD,
    TASK_LINK,
    Meter,
    Student,
    _commit,
    add_stack_arguments,
    argon2_hasher,
    schedstat_ns,
    stack_setup,
)
from bench.login.run import post_credentials  # noqa: E402
from bench.wave.stack import (  # noqa: E402
    ROOT,
    autogroup_nice,
    collect_static,
    production_stack,
    psql,
)

REFUSALS = (503, 429)
ACTIVE_STUDENTS = (
    "from kreide.accounts.models import User;"
    "print('\\n'.join(User.objects.filter(role='student', is_active=True,"
    " must_change_password=False).order_by('pk').values_list('username', flat=True)))"
)
YESTERDAY = "UPDATE accounts_user SET last_login = now() - interval '1 day' WHERE role = 'student'"


@dataclass
class Round:
    wall: float = 0.0  # seconds measured
    sign_ins: int = 0  # successful (302) sign-ins completed in the window
    refusals: dict[str, int] = field(default_factory=dict)  # status: count (sign-ins)
    sign_in_errors: int = 0
    sign_in_ms: list[float] = field(default_factory=list)  # form + POST, successful ones
    cpu: dict[str, float] = field(default_factory=dict)  # seconds by part (kreide, ...)
    waited: dict[str, float] = field(default_factory=dict)  # seconds ready but not running
    argon2: list[float] = field(default_factory=list)  # CPU seconds per verification
    argon2_wall: list[float] = field(default_factory=list)
    page_ms: list[float] = field(default_factory=list)
    page_errors: int = 0


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p of the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    # Rounded first: 0.07 * 100 is 7.000000000000001 in binary, and its ceiling 8.
    rank = max(1, math.ceil(round(len(ordered) * p, 9)))
    return ordered[min(len(ordered), rank) - 1]


def summarize(rounds: list[Round]) -> dict:
    """The report's figures over all rounds: rates over the summed windows, argon2id as the
    median verification, the ratio also per round (median and range)."""
    wall = sum(r.wall for r in rounds)
    sign_ins = sum(r.sign_ins for r in rounds)
    argon2 = statistics.median(t for r in rounds for t in r.argon2)
    rate = sign_ins / wall
    cpu = {part: sum(r.cpu[part] for r in rounds) for part in rounds[0].cpu}
    core = cpu["kreide"] + cpu["nginx"]
    per_round = [r.sign_ins / r.wall * statistics.median(r.argon2) for r in rounds]
    refusals: dict[str, int] = {}
    for r in rounds:
        for status, count in r.refusals.items():
            refusals[status] = refusals.get(status, 0) + count
    pages = [ms for r in rounds for ms in r.page_ms]
    sign_in_ms = [ms for r in rounds for ms in r.sign_in_ms]
    return {
        "seconds": wall,
        "sign_ins": sign_ins,
        "sign_ins_per_s": rate,
        "argon2_ms": argon2 * 1000,
        "argon2_ms_range": [
            min(t for r in rounds for t in r.argon2) * 1000,
            max(t for r in rounds for t in r.argon2) * 1000,
        ],
        "bound_per_s": 1 / argon2,
        "ratio": rate * argon2,
        "ratio_rounds": {
            "median": statistics.median(per_round),
            "min": min(per_round),
            "max": max(per_round),
        },
        # The core's share the server got (its tree and nginx), and the ratio per CPU
        # second it and PostgreSQL spent instead of per second of wall time.
        "core_utilisation": core / wall,
        "postgres_utilisation": cpu["postgres"] / wall,
        "cpu_ms_per_sign_in": {
            part: value / max(sign_ins, 1) * 1000 for part, value in cpu.items()
        },
        # Ready to run but waiting for a CPU: how much of their wall time the machine's other
        # work took from the server and from PostgreSQL.
        "waited_ms_per_sign_in": {
            part: sum(r.waited.get(part, 0.0) for r in rounds) / max(sign_ins, 1) * 1000
            for part in cpu
        },
        "ratio_per_cpu_second": sign_ins / (core + cpu["postgres"]) * argon2 if sign_ins else 0.0,
        "refusals": refusals,
        "sign_in_errors": sum(r.sign_in_errors for r in rounds),
        "sign_in_p50_ms": percentile(sign_in_ms, 0.50),
        "sign_in_p95_ms": percentile(sign_in_ms, 0.95),
        "pages": len(pages),
        "pages_per_s": len(pages) / wall,
        "page_p50_ms": percentile(pages, 0.50),
        "page_p95_ms": percentile(pages, 0.95),
        "page_p99_ms": percentile(pages, 0.99),
        "page_errors": sum(r.page_errors for r in rounds),
    }


def verdict(summary: dict, goal: float = 0.90, page_p95_ms: float = 200.0) -> str:
    """Issue #21's goal in one line: the ratio, and the signed-in students not starved."""
    starved = summary["page_p95_ms"] >= page_p95_ms or summary["page_errors"] > 0
    reached = summary["ratio"] >= goal
    return (
        f"ratio {summary['ratio']:.2f} {'≥' if reached else '<'} {goal:.2f}; signed-in pages "
        f"{'starved' if starved else 'not starved'} (p95 {summary['page_p95_ms']:.0f} ms, "
        f"{summary['page_errors']} errors; the goal: p95 < {page_p95_ms:.0f} ms, 0 errors)"
    )


class RunQueue(Meter):
    """As Meter, but the time the processes were ready to run and waited for a CPU."""

    def read(self) -> dict[str, dict[int, int]]:
        return {
            "kreide": {pid: schedstat_ns(pid, 1) for pid in self._tree(self.server_pid)},
            "postgres": {pid: schedstat_ns(pid, 1) for pid in self._backends()},
            "nginx": {pid: schedstat_ns(pid, 1) for pid in self._tree(self.nginx_pid)},
        }


class Load:
    """The two groups of students, running on threads of this process (other cores)."""

    def __init__(self, port: int, usernames: list[str], clients: int) -> None:
        self.port = port
        self.usernames = usernames
        self.clients = clients
        self.lock = threading.Lock()
        self.gate = threading.Event()  # open: sign-in clients start new sign-ins
        self.stop = threading.Event()
        self.in_flight = 0
        self.next_user = 0
        # (finished at perf_counter, kind, value): kind "ok" (ms), a status, or "error"
        self.sign_ins: list[tuple[float, str, float]] = []
        self.pages: list[tuple[float, bool, float]] = []  # (finished, ok, ms)
        self.threads: list[threading.Thread] = []

    def _username(self) -> str:
        with self.lock:
            name = self.usernames[self.next_user % len(self.usernames)]
            self.next_user += 1
            return name

    def _note(self, kind: str, value: float = 0.0) -> None:
        with self.lock:
            self.sign_ins.append((time.perf_counter(), kind, value))

    def _sign_in(self, username: str) -> tuple[str, int]:
        """One attempt: ("ok", 0), (status, Retry-After) for a refusal, or ("error", 0)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Accept": "text/html", "Accept-Language": "de"}
        try:
            connection.request("GET", "/accounts/login/", headers=headers)
            response = connection.getresponse()
            form = response.read().decode(errors="replace")
            if response.status in REFUSALS:
                return str(response.status), int(response.getheader("Retry-After") or 2)
            if response.status != 200:
                return "error", 0
            cookie = response.getheader("Set-Cookie", "").split(";")[0]
            response = post_credentials(connection, self.port, form, cookie, username, headers)
            if response.status in REFUSALS:
                return str(response.status), int(response.getheader("Retry-After") or 2)
            return ("ok", 0) if response.status == 302 else ("error", 0)
        except (OSError, http.client.HTTPException, AttributeError):
            return "error", 0
        finally:
            connection.close()

    def _sign_in_client(self) -> None:
        while not self.stop.is_set():
            if not self.gate.wait(0.2):
                continue
            username = self._username()
            with self.lock:
                self.in_flight += 1
            started = time.perf_counter()
            try:
                kind, retry_after = self._sign_in(username)
            finally:
                with self.lock:
                    self.in_flight -= 1
            self._note(kind, (time.perf_counter() - started) * 1000)
            if retry_after:  # as the waiting page does, then the form again
                self.stop.wait(retry_after)

    def _page_student(self, student: Student, interval: float, offset: float) -> None:
        paths = ["/", "/tasks/"]
        if student.task_ids:
            paths.append(f"/tasks/{student.task_ids[0]}/")
        due = time.perf_counter() + offset
        turn = 0
        while not self.stop.is_set():
            delay = due - time.perf_counter()
            if delay > 0 and self.stop.wait(delay):
                break
            due += interval  # a fixed schedule: a slow answer does not slow the next ones
            started = time.perf_counter()
            try:
                status, _, _ = student.request("GET", paths[turn % len(paths)])
                ok = status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                student.connection.close()
            turn += 1
            finished = time.perf_counter()
            with self.lock:
                self.pages.append((finished, ok, (finished - started) * 1000))

    def start(self, page_students: list[Student], page_rate: float) -> None:
        interval = len(page_students) / page_rate if page_students else 0.0
        for number, student in enumerate(page_students):
            offset = interval * number / len(page_students)
            self.threads.append(
                threading.Thread(
                    target=self._page_student, args=(student, interval, offset), daemon=True
                )
            )
        self.threads += [
            threading.Thread(target=self._sign_in_client, daemon=True) for _ in range(self.clients)
        ]
        for thread in self.threads:
            thread.start()

    def drain(self, timeout: float = 60.0) -> None:
        """Close the gate and wait for the sign-ins in flight."""
        self.gate.clear()
        deadline = time.perf_counter() + timeout
        while self.in_flight and time.perf_counter() < deadline:
            time.sleep(0.05)

    def window(self, start: float, end: float, into: Round) -> None:
        """What finished between `start` and `end`, into the round."""
        with self.lock:
            sign_ins = [entry for entry in self.sign_ins if start <= entry[0] < end]
            pages = [entry for entry in self.pages if start <= entry[0] < end]
        for _, kind, ms in sign_ins:
            if kind == "ok":
                into.sign_ins += 1
                into.sign_in_ms.append(ms)
            elif kind == "error":
                into.sign_in_errors += 1
            else:
                into.refusals[kind] = into.refusals.get(kind, 0) + 1
        into.page_ms = [ms for _, ok, ms in pages if ok]
        into.page_errors = sum(not ok for _, ok, _ in pages)


def verify_on_core(core: int, count: int, hasher, encoded: str) -> tuple[list[float], list[float]]:
    """`count` verifications on a thread pinned to `core`: CPU and wall seconds of each."""
    cpu: list[float] = []
    wall: list[float] = []

    def run() -> None:
        os.sched_setaffinity(0, {core})  # Linux: this thread only
        for _ in range(count):
            started, started_wall = time.thread_time(), time.perf_counter()
            if not hasher.verify(PASSWORD, encoded):
                raise RuntimeError("argon2id verification failed")
            cpu.append(time.thread_time() - started)
            wall.append(time.perf_counter() - started_wall)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return cpu, wall


def report(summary: dict, rounds: list[Round], args: argparse.Namespace, load: list[float]) -> str:
    refusals = ", ".join(f"{n} × {s}" for s, n in sorted(summary["refusals"].items())) or "none"
    cpu, waited = summary["cpu_ms_per_sign_in"], summary["waited_ms_per_sign_in"]
    span = summary["ratio_rounds"]
    settings = ", ".join(args.setting) or "the defaults"
    lines = [
        f"# Sign-ins per core against the argon2id bound ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"`{' '.join(['bench/login/per_core.py', *sys.argv[1:]])}` at commit `{_commit()}`: "
        f"`kreide serve --workers {args.workers}` and nginx pinned to core {args.core} at "
        f"nice {args.nice}, the clients too (settings: {settings}); {args.clients} sign-in "
        "clients (GET form + POST, each another demo student who signed in yesterday; a "
        "refusal waits its Retry-After, "
        f"then tries again), {args.page_students} signed-in students opening the dashboard, "
        f"task list and a task at {args.page_rate:g} pages/s in all. {args.rounds} rounds of "
        f"{args.seconds:g} s measured (after {args.ramp:g} s of ramp), each followed by "
        f"{args.argon2} argon2id verifications on a thread pinned to the same core.",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, load average {load[0]:.1f} at the start and "
        f"{load[1]:.1f} at the end (shared machine: the ratio is the figure, both its parts "
        "measured in the same run on the same core).",
        "",
        "| sign-ins/s | bound 1/t_argon2id | ratio (goal ≥ 0.90) | core utilisation "
        "| ratio per CPU second | refused (sign-ins) | pages/s | pages p50 / p95 / p99 ms "
        "| page errors |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {summary['sign_ins_per_s']:.1f} ({summary['sign_ins']} in "
        f"{summary['seconds']:.0f} s) | {summary['bound_per_s']:.1f} "
        f"(t = {summary['argon2_ms']:.1f} ms) | **{summary['ratio']:.2f}** "
        f"(rounds {span['min']:.2f}–{span['max']:.2f}) | {summary['core_utilisation']:.0%} "
        f"| {summary['ratio_per_cpu_second']:.2f} | {refusals} "
        f"| {summary['pages_per_s']:.1f} | {summary['page_p50_ms']:.0f} / "
        f"{summary['page_p95_ms']:.0f} / {summary['page_p99_ms']:.0f} "
        f"| {summary['page_errors']} |",
        "",
        f"{verdict(summary)}. CPU per successful sign-in (the signed-in pages' share "
        f"included): Kreide {cpu['kreide']:.1f} ms, nginx {cpu['nginx']:.1f} ms (the core), "
        f"PostgreSQL {cpu['postgres']:.1f} ms (not pinned; {summary['postgres_utilisation']:.0%}"
        f" of a core); sign-in wall time p50 {summary['sign_in_p50_ms']:.0f} ms, p95 "
        f"{summary['sign_in_p95_ms']:.0f} ms; {summary['sign_in_errors']} sign-in errors. "
        f"Waiting for a CPU while ready to run (run queue, other work on the machine), per "
        f"sign-in: Kreide {waited['kreide']:.1f} ms, nginx {waited['nginx']:.1f} ms, "
        f"PostgreSQL {waited['postgres']:.1f} ms. "
        f"argon2id {summary['argon2_ms']:.1f} ms (range {summary['argon2_ms_range'][0]:.1f}–"
        f'{summary["argon2_ms_range"][1]:.1f}). "Ratio per CPU second": sign-ins per CPU '
        "second of the core and PostgreSQL × t_argon2id, the ratio had the server had the "
        "core to itself.",
        "",
        "| round | sign-ins/s | argon2id ms | ratio | core | refused | pages p95 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for number, r in enumerate(rounds, 1):
        t = statistics.median(r.argon2)
        lines.append(
            f"| {number} | {r.sign_ins / r.wall:.1f} | {t * 1000:.1f} "
            f"| {r.sign_ins / r.wall * t:.2f} | {(r.cpu['kreide'] + r.cpu['nginx']) / r.wall:.0%} "
            f"| {sum(r.refusals.values())} | {percentile(r.page_ms, 0.95):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", type=int, default=0, help="the core the server is pinned to")
    parser.add_argument("--workers", type=int, default=1, help="Granian workers")
    parser.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="the server's and the clients' priority (as the wave: ahead of other work on a "
        "shared machine)",
    )
    parser.add_argument("--clients", type=int, default=96, help="concurrent sign-in clients")
    parser.add_argument("--page-students", type=int, default=20)
    parser.add_argument("--page-rate", type=float, default=10.0, help="signed-in pages/s")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured per round")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--argon2", type=int, default=10, help="verifications per round")
    add_stack_arguments(
        parser, database="kreide_bench_login_core", redis_db=9, name="login-per-core"
    )
    args = parser.parse_args()

    others = os.sched_getaffinity(0) - {args.core}
    if not others:
        sys.exit("needs a second core for the clients")
    os.sched_setaffinity(0, others)  # the clients (threads started from here) keep off it
    # The clients at the server's priority too: on a shared machine a client waiting for
    # its turn on the other core would look like a slow server.
    os.nice(args.nice)
    autogroup_nice(os.getpid(), args.nice)  # its session against the others (see there)
    database_url, setup, settings = stack_setup(args)
    hasher, encoded = argon2_hasher()
    # Collected once (about a minute on a loaded machine), reused with --reuse.
    static = ROOT / "var" / "bench-login-core-static"
    if not (args.reuse and (static / "static").is_dir()):
        collect_static(static)
    load_before = os.getloadavg()[0]
    with production_stack(
        ROOT / "var" / "bench-login-core",
        database_url,
        args.redis_url,
        workers=args.workers,
        settings=settings,
        server_cpus=str(args.core),
        nice=args.nice,
        setup=setup,
        static_from=static / "static",
    ) as stack:
        if not args.reuse:
            psql(args.database, "VACUUM ANALYZE")  # as autovacuum would have it at 8:00
        usernames = stack.kreide("shell", "-v", "0", "-c", ACTIVE_STUDENTS).split()
        page_names, sign_in_names = (
            usernames[: args.page_students],
            usernames[args.page_students :],
        )
        port = int(urllib.parse.urlsplit(stack.url).port)
        page_students = []
        for name in page_names:
            student = Student(port, name)
            student.sign_in()
            student.task_ids = TASK_LINK.findall(student.page("/tasks/"))
            page_students.append(student)
        psql(args.database, YESTERDAY)
        meter = Meter(stack.server_pid, stack.nginx_pid, args.database)
        queue = RunQueue(stack.server_pid, stack.nginx_pid, args.database)
        load = Load(port, sign_in_names, args.clients)
        load.start(page_students, args.page_rate)
        rounds = []
        try:
            for number in range(args.rounds):
                result = Round()
                load.gate.set()
                time.sleep(args.ramp)
                before, start = meter.read(), time.perf_counter()
                waits = queue.read()
                time.sleep(args.seconds)
                after, end = meter.read(), time.perf_counter()
                result.waited = queue.spent(waits, queue.read())
                load.drain()
                result.wall, result.cpu = end - start, meter.spent(before, after)
                load.window(start, end, result)
                result.argon2, result.argon2_wall = verify_on_core(
                    args.core, args.argon2, hasher, encoded
                )
                # Students signed in again (1,200 in the demo school) are yesterday's again.
                psql(args.database, YESTERDAY)
                rounds.append(result)
                t = statistics.median(result.argon2)
                print(
                    f"round {number + 1}: {result.sign_ins / result.wall:.1f} sign-ins/s, "
                    f"argon2id {t * 1000:.1f} ms, ratio {result.sign_ins / result.wall * t:.2f},"
                    f" core {(result.cpu['kreide'] + result.cpu['nginx']) / result.wall:.0%}, "
                    f"refused {result.refusals}, pages p95 "
                    f"{percentile(result.page_ms, 0.95):.0f} ms, "
                    f"{result.page_errors} page errors",
                    flush=True,
                )
        finally:
            load.stop.set()
            load.gate.set()
            for thread in load.threads:
                thread.join(timeout=70)
    summary = summarize(rounds)
    text = report(summary, rounds, args, [load_before, os.getloadavg()[0]])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.md").write_text(text)
    (out / f"{args.name}.json").write_text(
        json.dumps(
            {"summary": summary, "rounds": [asdict(r) for r in rounds], "argv": sys.argv[1:]},
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
