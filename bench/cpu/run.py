"""CPU per unit of the 8:00 journey, measured from outside the server, as a ratio to argon2id.

    .venv/bin/python bench/cpu/run.py                  # 7 rounds x 8 students, ~3 minutes
    .venv/bin/python bench/cpu/run.py --rounds 3 -n 4  # a quick look
    .venv/bin/python bench/cpu/run.py --reuse          # keep the database of the last run
    .venv/bin/python bench/cpu/run.py --units sign-in  # one unit (and argon2id) only
    .venv/bin/python bench/cpu/run.py --mail           # with Dovecot/Postfix and the inbox

Starts the production stack (nginx + `kreide serve` with one Granian worker, PostgreSQL,
Redis; bench/wave/stack.py) on the demo school, then runs rounds. In each round N students
(one of each of N classes; the first student of each class warmed its caches) who have not
been seen before make the journey unit by unit — every student signs in, then every student
opens the dashboard, and so on — and N argon2id verifications at the project's parameters
run in this process in between. Around each unit the CPU time of the
`kreide serve` process tree, of this database's PostgreSQL backends and of nginx is read
from /proc (`schedstat`: nanoseconds, not 10 ms ticks), so the client's own work does not
count.

The journey of issue #21 (sign-in, dashboard, task list, task, room, files, tus upload, and
with --mail the webmail's inbox, which #21 lets join the journey when it lands) is summed as
before; the units added since (the timetable and the substitution plan, which the wave opens
too) are marked "added" and summed with it in a second line. The stack runs with
KREIDE_MAIL=off unless --mail: then `kreide mail-start` (Kreide's mail service, Dovecot,
Postfix) runs beside it on --mail-port-base, its process tree's CPU is the part "mail"
(with the children its processes waited for: Dovecot's imap-login and imap processes of a
connection are gone by the next reading; 10 ms ticks there), and it is stopped by PID at
the end (also on failure).

On a shared machine whose speed varies, the ratio to the argon2id verifications of the same
round is the figure to compare; the report gives median and range over the rounds. Redis is
shared with other work on the machine and not counted.

The processes also spend CPU with no request at all (timers, pollers, idle workers: about
20 ms per second of wall time on a loaded machine), which a reading around a unit counts
too, the more the longer the unit's wall time. Each round therefore reads the processes'
idle CPU rate in a window of quiet before and after its units and subtracts that rate ×
the unit's wall time (never below zero, by part): the main figures are idle-corrected, the
raw ones stay in the report beside them.

Writes bench/results/<date>/cpu.md (and cpu.json with every round).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")

from bench.wave.stack import BIN, ROOT, Stack, fresh_database, production_stack, psql  # noqa: E402

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
TASK_LINK = re.compile(r'href="/tasks/(\d+)/"')
ROOM_LINK = re.compile(r'href="(/messages/rooms/\d+/)"')
UPLOAD_MARK = 'data-upload-purpose="task-submission"'
PASSWORD = "kreide-demo"
UPLOAD = os.urandom(100 * 1024)
WITH_UPLOAD = True  # set from the server's Tus-Extension before the rounds
# Each active student with their class: "username group_id" per line.
STUDENTS = """
from kreide.schools.models import Group, Membership
rows = Membership.unscoped.filter(
    group__kind=Group.Kind.CLASS, role=Membership.Role.MEMBER, user__role="student",
    user__is_active=True).order_by("group_id", "user__username")
print("\\n".join(f"{u} {g}" for u, g in rows.values_list("user__username", "group_id")))
"""
# Which journey a unit belongs to: issue #21's (the figures of earlier reports; with --mail
# the webmail's inbox too, which #21 lets join "when it lands"), the units added since (the
# wave's timetable and substitution plan), or none (the chat list only finds the room).
ORIGINAL, ADDED = "issue #21", "added"
# (key, label, journey)
UNITS = (
    ("sign-in", "sign-in (form + POST)", ORIGINAL),
    ("dashboard", "dashboard `/`", ORIGINAL),
    ("timetable", "timetable `/timetable/`", ADDED),
    ("substitutions", "substitution plan `/timetable/substitutions/`", ADDED),
    ("task-list", "task list `/tasks/`", ORIGINAL),
    ("task", "task `/tasks/<id>/`", ORIGINAL),
    ("chat-list", "chat list `/messages/`", None),
    ("room", "messenger room `/messages/rooms/<id>/`", ORIGINAL),
    ("files", "files `/files/`", ORIGINAL),
    ("tus", "tus upload 100 KB", ORIGINAL),
    ("inbox", "webmail inbox `/mail/`", ORIGINAL),
)
MAIL_UNITS = {"inbox"}  # only with --mail (the stack runs without mail servers otherwise)
PARTS = ("kreide", "postgres", "nginx")
# With --mail: the `kreide mail-start` tree (Kreide's mail service, Dovecot, Postfix).
MAIL_PART = "mail"
PART_NAMES = {"kreide": "Kreide", "postgres": "PostgreSQL", "nginx": "nginx", MAIL_PART: "mail"}
IDLE_WINDOW = 1.0  # seconds of quiet before and after each round's units


class Student:
    """One browser: a keep-alive connection to nginx and its cookies."""

    def __init__(self, port: int, username: str) -> None:
        self.port, self.username = port, username
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.task_ids: list[str] = []
        self.upload_task = ""
        self.room = ""

    def request(
        self, method: str, path: str, body: bytes | str | None = None, **headers: str
    ) -> tuple[int, http.client.HTTPMessage, str]:
        headers = {key.replace("_", "-"): value for key, value in headers.items()}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        text = response.read().decode(errors="replace")
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name.strip()] = value
        found = CSRF_HEADER.search(text)
        if found:
            self.csrf = found.group(1)
        return response.status, response.headers, text

    def page(self, path: str) -> str:
        status, _, text = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"{self.username}: {path} answered {status}")
        return text

    def sign_in(self) -> None:
        form = self.page("/accounts/login/")
        body = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": CSRF_FIELD.search(form).group(1),
                "username": self.username,
                "password": PASSWORD,
                "remember": "on",
            }
        )
        status, _, _ = self.request(
            "POST",
            "/accounts/login/",
            body,
            Content_Type="application/x-www-form-urlencoded",
            Referer=f"http://127.0.0.1:{self.port}/accounts/login/",
        )
        if status != 302:
            raise RuntimeError(f"sign-in of {self.username} answered {status}")

    def task_list(self) -> None:
        self.task_ids = TASK_LINK.findall(self.page("/tasks/"))

    def task(self) -> bool:
        """The first task of the list."""
        if not self.task_ids:
            return False
        self.page(f"/tasks/{self.task_ids[0]}/")
        return True

    def find_upload_task(self) -> None:
        """Before the tus unit, not measured: the first of the student's tasks that takes
        files (the demo school has tasks past their deadline)."""
        self.upload_task = next(
            (t for t in self.task_ids if UPLOAD_MARK in self.page(f"/tasks/{t}/")), ""
        )

    def chat_list(self) -> None:
        found = ROOM_LINK.search(self.page("/messages/"))
        self.room = found.group(1) if found else ""

    def messenger_room(self) -> bool:
        if self.room:
            self.page(self.room)
        return bool(self.room)

    def upload(self) -> bool:
        if not self.upload_task:
            return False
        metadata = ",".join(
            f"{key} {base64.b64encode(value.encode()).decode()}"
            for key, value in {
                "purpose": "task-submission",
                "task": self.upload_task,
                "filename": f"loesung-{os.urandom(4).hex()}.pdf",
                "filetype": "application/pdf",
            }.items()
        )
        tus = {"Tus_Resumable": "1.0.0", "X_CSRFToken": self.csrf}
        if WITH_UPLOAD:  # as the browser's uploader: the file goes with the creation
            status, headers, text = self.request(
                "POST",
                "/uploads/",
                UPLOAD,
                **tus,
                Upload_Length=str(len(UPLOAD)),
                Upload_Metadata=metadata,
                Content_Type="application/offset+octet-stream",
            )
            if status != 201 or headers.get("Upload-Offset") != str(len(UPLOAD)):
                raise RuntimeError(f"{self.username}: upload answered {status}: {text[:200]}")
            return True
        status, headers, text = self.request(
            "POST",
            "/uploads/",
            b"",
            **tus,
            Upload_Length=str(len(UPLOAD)),
            Upload_Metadata=metadata,
        )
        if status != 201:
            raise RuntimeError(f"{self.username}: upload create answered {status}: {text[:200]}")
        location = urllib.parse.urlsplit(headers["Location"]).path
        status, _, text = self.request(
            "PATCH",
            location,
            UPLOAD,
            **tus,
            Upload_Offset="0",
            Content_Type="application/offset+octet-stream",
        )
        if status != 204:
            raise RuntimeError(f"{self.username}: upload answered {status}: {text[:200]}")
        return True


def server_takes_upload_with_creation(port: int) -> bool:
    """Whether the server announces tus creation-with-upload (a server before it: create +
    PATCH, two requests)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("OPTIONS", "/uploads/")
    extensions = connection.getresponse().headers.get("Tus-Extension", "")
    connection.close()
    return "creation-with-upload" in extensions.split(",")


# A unit's action returns False where the student had nothing to do (no open task).
ACTIONS: dict[str, Callable[[Student], bool | None]] = {
    "sign-in": Student.sign_in,
    "dashboard": lambda s: s.page("/") and True,
    "timetable": lambda s: s.page("/timetable/") and True,
    "substitutions": lambda s: s.page("/timetable/substitutions/") and True,
    "task-list": Student.task_list,
    "task": Student.task,
    "chat-list": Student.chat_list,
    "room": Student.messenger_room,
    "files": lambda s: s.page("/files/") and True,
    "tus": Student.upload,
    "inbox": lambda s: s.page("/mail/") and True,
}


def schedstat_ns(pid: int, field: int = 0) -> int:
    """A field of schedstat summed over a process's threads, nanoseconds (0 once it is
    gone): 0 the CPU time, 1 the time waiting on a run queue."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[field])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def _reaped_children_ns(pid: int) -> int:
    """CPU of a process's children that exited and that it waited for (cutime + cstime of
    /proc/<pid>/stat, clock ticks): Dovecot starts an imap-login and an imap process per
    connection that are gone before the next reading."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return (int(fields[13]) + int(fields[14])) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


class Meter:
    """CPU nanoseconds of the server's processes, by part, read from /proc."""

    def __init__(
        self, server_pid: int, nginx_pid: int, database: str, mail_pid: int | None = None
    ) -> None:
        self.server_pid, self.nginx_pid, self.database = server_pid, nginx_pid, database
        self.mail_pid = mail_pid

    def _tree(self, root: int) -> list[int]:
        try:
            parent = psutil.Process(root)
            return [root, *(child.pid for child in parent.children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def _backends(self) -> list[int]:
        """This database's PostgreSQL backends ("postgres: 15/main: user db host idle")."""
        pids = []
        for process in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
                pids.append(process.pid)
        return pids

    def read(self) -> dict[str, dict[int, int]]:
        reading = {
            "kreide": {pid: schedstat_ns(pid) for pid in self._tree(self.server_pid)},
            "postgres": {pid: schedstat_ns(pid) for pid in self._backends()},
            "nginx": {pid: schedstat_ns(pid) for pid in self._tree(self.nginx_pid)},
        }
        if self.mail_pid is not None:
            reading[MAIL_PART] = {
                pid: schedstat_ns(pid) + _reaped_children_ns(pid)
                for pid in self._tree(self.mail_pid)
            }
        return reading

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        """Seconds of CPU per part between two readings; a process started in between
        counts from zero (a new backend's start is part of the work)."""
        return {
            part: sum(ns - before[part].get(pid, 0) for pid, ns in after[part].items()) / 1e9
            for part in after
        }


def idle_rate(windows: list[tuple[dict[str, float], float]]) -> dict[str, float]:
    """CPU seconds per second of wall time, by part, over idle windows (spent, wall)."""
    wall = sum(seconds for _, seconds in windows)
    return {part: sum(spent[part] for spent, _ in windows) / wall for part in windows[0][0]}


def without_idle(spent: dict[str, float], wall: float, idle: dict[str, float]) -> dict[str, float]:
    """A unit's CPU by part less what the processes spend idle over its wall time; never
    below zero (a unit that took less than the idle noise cost nothing measurable)."""
    return {part: max(0.0, spent[part] - idle[part] * wall) for part in spent}


def mail_settings(base: int, root: Path) -> dict[str, str]:
    """The stack's settings for mail run by a `kreide mail-start` of its own (not by
    `kreide serve`, so the bench holds its PID): any KREIDE_MAIL but "auto" and "off"
    lets the pages use the servers, and both sides share the ports and the directory."""
    return {
        "KREIDE_MAIL": "external",
        "KREIDE_MAIL_PORT_BASE": str(base),
        "KREIDE_MAIL_DIR": str(root / "mail"),
    }


def _ports_free(base: int) -> bool:
    from kreide.mail.process import Ports

    ports = Ports(base)
    for name in dir(Ports):
        port = getattr(ports, name)
        if name.startswith("_") or not isinstance(port, int) or port == base:
            continue
        with socket.socket() as probe:
            # As the servers bind: the last run's closed connections (TIME_WAIT) hold no port.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@contextmanager
def mail_servers(stack: Stack) -> Iterator[int]:
    """`kreide mail-start` (Kreide's mail service, Dovecot, Postfix) with the stack's
    settings; yields its PID once IMAP and submission answer and the demo mails are sent.
    Stopped at the end, also on failure: SIGTERM (it stops Dovecot and Postfix), and every
    process of its tree seen while it ran that is still there afterwards is killed by PID."""
    from kreide.mail import process

    mail = process.layout(
        Path(stack.env["KREIDE_MAIL_DIR"]), base=int(stack.env["KREIDE_MAIL_PORT_BASE"])
    )
    log = (mail.root.parent / "mail-start.log").open("ab")
    server = subprocess.Popen(
        [str(BIN / "kreide"), "mail-start"],
        env=stack.env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    seen: dict[int, float] = {}  # pid: its start time (a PID the system gave out again)

    def note_tree() -> None:
        with suppress(psutil.NoSuchProcess):
            for child in [psutil.Process(server.pid)] + psutil.Process(server.pid).children(
                recursive=True
            ):
                with suppress(psutil.NoSuchProcess):
                    seen[child.pid] = child.create_time()
        master = mail.root / "postfix-queue" / "pid" / "master.pid"  # start-fg may hand over
        with suppress(OSError, ValueError, psutil.NoSuchProcess):
            pid = int(master.read_text().split()[0])
            seen[pid] = psutil.Process(pid).create_time()

    try:
        # Bounded; a loaded machine starts slowly: `kreide mail-start` makes the demo
        # school's ~2,500 mailboxes before the demo mails (over 5 minutes at load 15-20).
        deadline = time.monotonic() + 900
        while not (
            process.answers(mail.host, mail.ports.imap)
            and process.answers(mail.host, mail.ports.submission)
            and (mail.root / "demo-mail-sent").exists()
        ):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kreide mail-start did not come up; see {log.name}")
            time.sleep(0.5)
        note_tree()
        yield server.pid
    finally:
        note_tree()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        for pid, started in seen.items():
            with suppress(psutil.NoSuchProcess):
                survivor = psutil.Process(pid)
                if survivor.create_time() == started:
                    survivor.kill()
        log.close()


def argon2_hasher():
    import django

    django.setup()
    from django.contrib.auth.hashers import get_hasher

    hasher = get_hasher("default")  # the project's first hasher: what a sign-in verifies
    return hasher, hasher.encode(PASSWORD, hasher.salt())


@dataclass
class Round:
    argon2: float = 0.0  # CPU seconds of one verification (this process, thread time)
    units: dict[str, dict[str, float]] = field(default_factory=dict)  # per op, by part, idle out
    units_raw: dict[str, dict[str, float]] = field(default_factory=dict)  # idle CPU included
    wall: dict[str, float] = field(default_factory=dict)  # seconds per op
    idle: dict[str, float] = field(default_factory=dict)  # CPU s per second of wall time
    done: dict[str, int] = field(default_factory=dict)  # operations per unit


def run_round(
    port: int, usernames: list[str], meter: Meter, hasher, encoded: str, units: list[str]
) -> Round:
    result = Round()
    students = [Student(port, name) for name in usernames]

    def quiet() -> tuple[dict[str, float], float]:
        """What the server's processes spend without requests (timers, pollers)."""
        before, started = meter.read(), time.perf_counter()
        time.sleep(IDLE_WINDOW)
        return meter.spent(before, meter.read()), time.perf_counter() - started

    windows = [quiet()]
    spent_raw: dict[str, tuple[dict[str, float], float]] = {}
    # argon2id in the middle of the round (before the task), or after the units chosen
    middle = "task" if "task" in units else None
    for key in [*units, None]:
        if key == middle:
            before_argon2 = time.thread_time()
            for _ in students:
                if not hasher.verify(PASSWORD, encoded):
                    raise RuntimeError("argon2id verification failed")
            result.argon2 = (time.thread_time() - before_argon2) / len(students)
        if key is None:
            break
        if key == "tus":
            for student in students:
                student.find_upload_task()
        action = ACTIONS[key]
        before, started = meter.read(), time.perf_counter()
        done = sum(action(student) is not False for student in students)
        spent_raw[key] = meter.spent(before, meter.read()), time.perf_counter() - started
        result.done[key] = done
    for student in students:
        student.connection.close()
    windows.append(quiet())
    result.idle = idle_rate(windows)
    for key, (spent, wall) in spent_raw.items():
        ops = max(result.done[key], 1)
        corrected = without_idle(spent, wall, result.idle)
        result.units[key] = {part: value / ops for part, value in corrected.items()}
        result.units_raw[key] = {part: value / ops for part, value in spent.items()}
        result.wall[key] = wall / ops
    return result


def summarize(rounds: list[Round]) -> dict:
    def stats(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    parts = list(rounds[0].idle)
    rows = {}
    for key, label, journey in UNITS:
        if key not in rounds[0].units:
            continue
        done = [r for r in rounds if r.done[key]] or rounds  # a round without an open task
        totals = [sum(r.units[key].values()) for r in done]
        raw = [sum(r.units_raw[key].values()) for r in done]
        rows[key] = {
            "label": label,
            "journey": journey,
            "operations": sum(r.done[key] for r in rounds),
            "wall_ms": stats([r.wall[key] * 1000 for r in done]),
            "total_ms": stats([t * 1000 for t in totals]),
            "parts_ms": {
                part: statistics.median(r.units[key][part] * 1000 for r in done) for part in parts
            },
            "ratio": stats([t / r.argon2 for t, r in zip(totals, done, strict=True)]),
            "raw_total_ms": stats([t * 1000 for t in raw]),
            "raw_ratio": stats([t / r.argon2 for t, r in zip(raw, done, strict=True)]),
        }

    def journey(included: set[str]) -> dict:
        """The sum of the units in `included` per round (a unit's median where the round had
        none of it: no open task), in ms and × argon2id, idle out and raw."""
        keys = [key for key, row in rows.items() if row["journey"] in included]

        def sums(units: str, total: str) -> list[float]:
            return [
                sum(
                    sum(getattr(r, units)[key].values())
                    if r.done[key]
                    else rows[key][total]["median"] / 1000
                    for key in keys
                )
                for r in rounds
            ]

        corrected, raw = sums("units", "total_ms"), sums("units_raw", "raw_total_ms")
        return {
            "units": keys,
            "ms": stats([j * 1000 for j in corrected]),
            "ratio": stats([j / r.argon2 for j, r in zip(corrected, rounds, strict=True)]),
            "raw_ms": stats([j * 1000 for j in raw]),
            "raw_ratio": stats([j / r.argon2 for j, r in zip(raw, rounds, strict=True)]),
            # One core for 10 minutes divided by one journey's CPU.
            "students_per_core": stats([600 / j for j in corrected]),
        }

    original = journey({ORIGINAL})
    summary = {
        "argon2_ms": stats([r.argon2 * 1000 for r in rounds]),
        "parts": parts,
        "units": rows,
        # The inbox is measured only with --mail: without it, the journey is whole without.
        "all_units": all(
            key in rows
            for key, _, journey in UNITS
            if journey == ORIGINAL and (key not in MAIL_UNITS or MAIL_PART in parts)
        ),
        # Issue #21's original journey, under the keys earlier reports used.
        "journey_ms": original["ms"],
        "journey_ratio": original["ratio"],
        "raw_journey_ms": original["raw_ms"],
        "raw_journey_ratio": original["raw_ratio"],
        "students_per_core": original["students_per_core"],
        "journey_units": original["units"],
        "idle_ms_per_s": {
            part: statistics.median(r.idle[part] * 1000 for r in rounds) for part in parts
        },
    }
    if any(row["journey"] == ADDED for row in rows.values()):
        summary["with_added"] = journey({ORIGINAL, ADDED})
    return summary


def _labels(summary: dict, keys: list[str]) -> str:
    """The units' names without their paths: "sign-in, dashboard, …"."""
    return ", ".join(re.split(r" [`(]", summary["units"][key]["label"])[0] for key in keys)


def table(summary: dict) -> str:
    def span(s: dict, digits: int = 1) -> str:
        return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"

    parts = summary["parts"]
    lines = [
        "| unit | operations | wall ms | CPU ms, idle out: median (range) "
        f"| {' / '.join(PART_NAMES[part] for part in parts)} ms | × argon2id "
        "| raw CPU ms | raw × argon2id |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary["units"].values():
        values = " / ".join(f"{row['parts_ms'][part]:.1f}" for part in parts)
        label = {
            ORIGINAL: row["label"],
            ADDED: f"{row['label']} (added)",
            None: f"({row['label']}, not in a sum)",
        }[row["journey"]]
        lines.append(
            f"| {label} | {row['operations']} | {row['wall_ms']['median']:.0f} "
            f"| {span(row['total_ms'])} | {values} | {span(row['ratio'], 2)} "
            f"| {span(row['raw_total_ms'])} | {span(row['raw_ratio'], 2)} |"
        )
    lines.append(
        f"| **journey of issue #21** ({_labels(summary, summary['journey_units'])}) | | "
        f"| **{span(summary['journey_ms'])}** | | **{span(summary['journey_ratio'], 2)}** "
        f"| {span(summary['raw_journey_ms'])} | {span(summary['raw_journey_ratio'], 2)} |"
    )
    if "with_added" in summary:
        whole = summary["with_added"]
        added = [key for key in whole["units"] if key not in summary["journey_units"]]
        lines.append(
            f"| **journey with the added units** (+ {_labels(summary, added)}) | | "
            f"| **{span(whole['ms'])}** | | **{span(whole['ratio'], 2)}** "
            f"| {span(whole['raw_ms'])} | {span(whole['raw_ratio'], 2)} |"
        )
    lines.append(f"| one argon2id verification | | | {span(summary['argon2_ms'])} | | 1 | | |")
    return "\n".join(lines)


def report(summary: dict, args: argparse.Namespace, load: tuple[float, float]) -> str:
    students = summary["students_per_core"]
    subset = (
        ""
        if summary["all_units"]
        else "Only some units of issue #21's journey measured: its sum is of those. "
    )
    idle = ", ".join(
        f"{PART_NAMES[part]} {summary['idle_ms_per_s'][part]:.2f}" for part in summary["parts"]
    )
    whole = ""
    if "with_added" in summary:
        more = summary["with_added"]["students_per_core"]
        whole = (
            f' With the added units (marked "added": not in issue #21\'s goal, not in earlier'
            f" reports' journey): {more['median']:,.0f} (range {more['min']:,.0f}–"
            f"{more['max']:,.0f})."
        )
    mail = (
        f"\n\nWith `--mail`: `kreide mail-start` (Kreide's mail service, Dovecot, Postfix) on"
        f' port base {args.mail_port_base}; "mail" is the CPU of its process tree (with the'
        " per-connection Dovecot processes that exited in between, from their parents'"
        " cutime/cstime in 10 ms ticks). The"
        " dashboard then also asks Dovecot for the unread count (once a minute per user), and"
        " the journey of issue #21 includes the webmail inbox (reports without `--mail`: not)."
        if args.mail
        else ""
    )
    return f"""# CPU per unit of the 8:00 journey ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)

`{" ".join(["bench/cpu/run.py", *sys.argv[1:]])}` at commit `{_commit()}`: {args.rounds}
rounds, each with {args.n} students not seen before making the journey unit by unit and
{args.n} argon2id verifications at the project's parameters in between. CPU of the
`kreide serve` tree (one Granian worker), this database's PostgreSQL backends and nginx,
read from /proc around each unit; Redis not counted. Per operation: median and range over
the rounds; "× argon2id" divides by the verification measured in the same round. "Idle
out": less the processes' idle CPU rate (read in {IDLE_WINDOW:g} s of quiet before and after
each round's units) × the unit's wall time; "raw" includes it.{mail}

Machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python
{platform.python_version()}, load average {load[0]:.1f} at the start and {load[1]:.1f} at
the end (shared machine: compare the ratios, not the milliseconds).

{table(summary)}

{subset}Journey of issue #21 = its units as measured ({_labels(summary, summary["journey_units"])}).
**{students["median"]:,.0f} students per core per 10-minute wave**
(range {students["min"]:,.0f}–{students["max"]:,.0f}): 600 s of one core divided by one
journey's CPU (idle out).{whole} Idle CPU of the processes, ms per second of wall time
(median over the rounds): {idle}.
"""


def _commit() -> str:
    import subprocess

    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def add_stack_arguments(
    parser: argparse.ArgumentParser, *, database: str, redis_db: int, name: str
) -> None:
    """The options of a benchmark that runs the production stack on a database of its own
    and writes a report: where, with which settings, under which name."""
    parser.add_argument("--database", default=database)
    parser.add_argument("--redis-url", default=f"redis://127.0.0.1:6379/{redis_db}")
    parser.add_argument("--reuse", action="store_true", help="keep the last run's database")
    parser.add_argument(
        "--setting", action="append", default=[], help="KREIDE_X=value for the server"
    )
    parser.add_argument(
        "--out", default=str(ROOT / "bench" / "results" / datetime.now(UTC).strftime("%Y-%m-%d"))
    )
    parser.add_argument("--name", default=name, help="file name of the report (without .md)")


def stack_setup(args: argparse.Namespace) -> tuple[str, tuple[tuple[str, ...], ...], dict]:
    """From `add_stack_arguments`' options: the database's URL (set for this process too),
    the commands that prepare it (a fresh demo school unless --reuse), the server's
    settings."""
    database_url = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    os.environ.update(KREIDE_DATABASE_URL=database_url, KREIDE_REDIS_URL=args.redis_url)
    setup: tuple[tuple[str, ...], ...] = (("migrate", "-v0"),)
    if not args.reuse:
        fresh_database(args.database)
        setup = (("migrate", "-v0"), ("seed-demo",))
    return database_url, setup, dict(item.split("=", 1) for item in args.setting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("-n", type=int, default=8, help="students (and verifications) per round")
    add_stack_arguments(parser, database="kreide_bench_cpu", redis_db=8, name="cpu")
    parser.add_argument(
        "--units",
        help="comma-separated units to measure, in journey order (a unit needs the ones "
        "before it that find its pages: task after task-list, room after chat-list); "
        "default all (the inbox with --mail)",
    )
    parser.add_argument(
        "--mail",
        action="store_true",
        help="run `kreide mail-start` (Dovecot, Postfix) beside the stack and count its CPU",
    )
    parser.add_argument(
        "--mail-port-base",
        type=int,
        default=12000,
        help="KREIDE_MAIL_PORT_BASE of the mail servers (ports base+24 … base+993)",
    )
    args = parser.parse_args()
    wanted = (
        args.units.split(",")
        if args.units
        else [key for key, _, _ in UNITS if args.mail or key not in MAIL_UNITS]
    )
    units = [key for key, _, _ in UNITS if key in wanted]
    if not args.mail and MAIL_UNITS & set(units):
        sys.exit("the inbox needs --mail")
    out, work = Path(args.out), ROOT / "var" / "bench-cpu"
    database_url, setup, settings = stack_setup(args)
    hasher, encoded = argon2_hasher()
    mail_root = None
    if args.mail:
        if not _ports_free(args.mail_port_base):
            sys.exit(f"a mail port of base {args.mail_port_base} is taken: --mail-port-base")
        mail_root = Path(tempfile.mkdtemp(prefix="kreide-bench-cpu-mail-"))
        mail_root.chmod(0o755)  # Dovecot's unprivileged login processes pass through it
        settings = {**mail_settings(args.mail_port_base, mail_root), **settings}
    load_before = os.getloadavg()[0]
    with ExitStack() as running:
        if mail_root is not None:
            running.callback(shutil.rmtree, mail_root, ignore_errors=True)
        stack = running.enter_context(
            production_stack(
                work, database_url, args.redis_url, workers=1, settings=settings, setup=setup
            )
        )
        mail_pid = running.enter_context(mail_servers(stack)) if args.mail else None
        if not args.reuse:
            psql(args.database, "VACUUM ANALYZE")  # as autovacuum would have it at 8:00
        classes: dict[str, list[str]] = {}
        for line in stack.kreide("shell", "-v", "0", "-c", STUDENTS).splitlines():
            username, group = line.split()
            classes.setdefault(group, []).append(username)
        # n classes, each round one student of each not seen before: at 8:00 the first
        # students of a class have filled its caches, each student's own are still empty.
        chosen = sorted(classes.values(), key=len, reverse=True)[: args.n]
        if len(chosen) < args.n or len(chosen[-1]) <= args.rounds:
            sys.exit(f"the demo school has no {args.n} classes of {args.rounds + 1} students")
        port = int(urllib.parse.urlsplit(stack.url).port)
        meter = Meter(stack.server_pid, stack.nginx_pid, args.database, mail_pid)
        global WITH_UPLOAD
        WITH_UPLOAD = server_takes_upload_with_creation(port)
        # Warm-up: the first student of each class (imports, templates, class caches).
        run_round(port, [members[-1] for members in chosen], meter, hasher, encoded, units)
        rounds = []
        for number in range(args.rounds):
            students = [members[number] for members in chosen]
            rounds.append(run_round(port, students, meter, hasher, encoded, units))
            print(
                f"round {number + 1}: argon2id {rounds[-1].argon2 * 1000:.1f} ms, "
                + ", ".join(
                    f"{key} {sum(rounds[-1].units[key].values()) * 1000:.1f}"
                    f" (raw {sum(rounds[-1].units_raw[key].values()) * 1000:.1f})"
                    for key in units
                ),
                flush=True,
            )
    summary = summarize(rounds)
    out.mkdir(parents=True, exist_ok=True)
    text = report(summary, args, (load_before, os.getloadavg()[0]))
    (out / f"{args.name}.md").write_text(text)
    (out / f"{args.name}.json").write_text(
        json.dumps(
            {"summary": summary, "rounds": [r.__dict__ for r in rounds], "argv": sys.argv[1:]},
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
