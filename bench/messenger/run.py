"""Messenger capacity on this machine: connections one ASGI process holds on one core,
memory per idle connection, and fan-out latency (send to receipt) in rooms of 30.

The server is the production real-time process exactly as `kreide serve` starts it
(uvicorn running kreide.asgi, Redis pub/sub channel layer, PostgreSQL), pinned to core 0.
The clients are one asyncio process with the `websockets` library, pinned to core 1, all on
loopback. Every client is a signed-in student of a bench school in a database of its own;
students sit in rooms of 30. While all clients stay connected, one member in each of
--rooms rooms sends messages at --rate messages/s in total for --seconds seconds; every
other member of the room times the message from the send to its receipt.

    .venv/bin/python bench/messenger/run.py --clients 10000 --seconds 30

Prints a Markdown summary and writes JSON to bench/messenger/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
ROOM_SIZE = 30
SLOW = 0.1  # a delivery slower than this is listed with its send time
BENCH_SLUG = "messenger-bench"


def raise_file_limit() -> int:
    """Every connection is a file descriptor on each side: lift the soft limit (and, as
    root, the hard limit) for this process and the processes it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (200_000, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(wanted, hard)))
            return wanted
        except (ValueError, OSError):
            continue
    return soft


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# --- set-up (in this process, with Django) ------------------------------------------------
def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def seed(clients: int) -> list[dict]:
    """A bench school with `clients` students in rooms of 30, each with a session."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from kreide.accounts.models import User
    from kreide.messenger import services
    from kreide.messenger.models import Room
    from kreide.schools.models import Group, Membership, School

    school = School.objects.filter(slug=BENCH_SLUG).first()
    if school is None or User.objects.for_school(school).count() != clients:
        if school is not None:
            print("Removing the previous bench school …", flush=True)
            school.delete()
        print(f"Creating {clients} students in rooms of {ROOM_SIZE} …", flush=True)
        school = School.objects.create(name="Bench-Schule", slug=BENCH_SLUG)
        password = make_password(uuid.uuid4().hex)
        users = User.objects.bulk_create(
            User(
                school=school,
                username=f"bench{n}",
                password=password,
                first_name="Bench",
                last_name=str(n),
                role=User.Role.STUDENT,
            )
            for n in range(clients)
        )
        groups = Group.unscoped.bulk_create(
            Group(school=school, name=f"B{n}", kind=Group.Kind.WORKGROUP)
            for n in range((clients + ROOM_SIZE - 1) // ROOM_SIZE)
        )
        Membership.unscoped.bulk_create(
            (
                Membership(school=school, group=groups[n // ROOM_SIZE], user=user)
                for n, user in enumerate(users)
            ),
            batch_size=5000,
        )
        services.sync_school_rooms(school.pk)
    users = list(User.objects.for_school(school).order_by("pk"))
    room_of = dict(Room.objects.for_school(school).values_list("group__memberships__user_id", "pk"))
    Session.objects.filter(expire_date__lt=timezone.now()).delete()
    store = SessionStore()
    expires = timezone.now() + timezone.timedelta(days=1)
    backend = settings.AUTHENTICATION_BACKENDS[0]
    sessions = []
    for user in users:
        sessions.append(
            Session(
                session_key=uuid.uuid4().hex,
                session_data=store.encode(
                    {
                        "_auth_user_id": str(user.pk),
                        "_auth_user_backend": backend,
                        "_auth_user_hash": user.get_session_auth_hash(),
                    }
                ),
                expire_date=expires,
            )
        )
    Session.objects.bulk_create(sessions, batch_size=5000)
    return [
        {
            "user": user.pk,
            "room": room_of[user.pk],
            "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
        }
        for user, session in zip(users, sessions, strict=True)
    ]


# --- the client process -------------------------------------------------------------------
async def client_main(options: argparse.Namespace) -> dict:
    from websockets.asyncio.client import connect

    people = json.loads(Path(options.people).read_text())
    url = f"ws://127.0.0.1:{options.port}/ws/messenger/"
    sockets: list = [None] * len(people)
    gate = asyncio.Semaphore(options.parallel)
    failures: list[str] = []

    async def open_one(index: int) -> None:
        async with gate:
            for attempt in range(4):
                try:
                    ws = await connect(
                        url,
                        open_timeout=60,
                        ping_interval=None,
                        max_queue=64,
                        additional_headers={
                            "Origin": "http://127.0.0.1",
                            "Cookie": people[index]["cookie"],
                        },
                    )
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 60))
                    if hello.get("type") != "hello":
                        raise RuntimeError(f"unexpected first frame {hello}")
                    sockets[index] = ws
                    return
                except Exception as error:  # noqa: BLE001 - counted and reported
                    if attempt == 3:
                        failures.append(repr(error)[:200])
                    await asyncio.sleep(0.5 * (attempt + 1))

    rss_idle_before = rss_kib(options.server_pid)
    started = time.perf_counter()
    await asyncio.gather(*(open_one(n) for n in range(len(people))))
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(3)  # let the server settle before measuring its memory
    rss_connected = rss_kib(options.server_pid)
    idle_cpu = cpu_seconds(options.server_pid)
    await asyncio.sleep(20)  # what merely holding the connections costs (pings)
    idle_cpu_share = (cpu_seconds(options.server_pid) - idle_cpu) / 20
    connected = sum(ws is not None for ws in sockets)

    # The client's own garbage collection over 10,000 connections would stall its clock
    # reading; what is measured is the server.
    gc.freeze()
    gc.disable()
    latencies: list[float] = []
    sends: list[float] = []  # the send time of each delivery, beside its latency
    rooms_of: list[int] = []  # and its room
    closed_early: list[int] = []
    client_stalls: list[tuple[float, float]] = []

    async def beat() -> None:
        """The client's own event loop lag: a late reading is not the server's."""
        expected = time.perf_counter() + 0.01
        while not stopping.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            if now - expected >= 0.02:
                client_stalls.append((round(expected, 4), round((now - expected) * 1000, 1)))
            expected = now + 0.01

    async def listen(index: int, ws) -> None:
        me = people[index]["user"]
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "message" and frame["message"]["author"]["id"] != me:
                    sent_at = float(frame["message"]["text"].split()[1])
                    latencies.append(time.perf_counter() - sent_at)
                    sends.append(sent_at)
                    rooms_of.append(frame["message"]["room"])
        except Exception:  # noqa: BLE001, S110 - a dropped connection is counted below
            pass
        if not stopping.is_set():
            closed_early.append(index)

    stopping = asyncio.Event()
    listeners = [asyncio.create_task(listen(n, ws)) for n, ws in enumerate(sockets) if ws]
    beating = asyncio.create_task(beat())

    # One sender per measured room (its first member), spread evenly over the interval.
    first_member: dict[int, int] = {}
    for index, person in enumerate(people):
        if sockets[index] is not None:
            first_member.setdefault(person["room"], index)
    rooms = random.Random(7).sample(sorted(first_member), min(options.rooms, len(first_member)))
    interval = len(rooms) / options.rate
    sent = 0
    members = {room: 0 for room in rooms}
    for index, person in enumerate(people):
        if person["room"] in members and sockets[index] is not None:
            members[person["room"]] += 1

    async def send_loop(offset: float, room: int) -> None:
        nonlocal sent
        ws = sockets[first_member[room]]
        await asyncio.sleep(offset)
        deadline = time.perf_counter() + options.seconds
        while time.perf_counter() < deadline:
            await ws.send(
                json.dumps(
                    {
                        "type": "send",
                        "room": room,
                        "key": uuid.uuid4().hex,
                        "text": f"t {time.perf_counter():.6f}",
                    }
                )
            )
            sent += 1
            await asyncio.sleep(interval)

    server_cpu, client_cpu, fanout_started = (
        cpu_seconds(options.server_pid),
        cpu_seconds(os.getpid()),
        time.perf_counter(),
    )
    await asyncio.gather(
        *(send_loop(i * interval / len(rooms), room) for i, room in enumerate(rooms))
    )
    fanout_wall = time.perf_counter() - fanout_started
    server_cpu = cpu_seconds(options.server_pid) - server_cpu
    client_cpu = cpu_seconds(os.getpid()) - client_cpu
    await asyncio.sleep(3)  # the last deliveries
    expected = sent * (statistics.mean(members.values()) - 1) if rooms else 0
    held = sum(1 for ws in sockets if ws is not None and ws.state.name == "OPEN")
    stopping.set()
    await asyncio.gather(*(ws.close() for ws in sockets if ws is not None), return_exceptions=True)
    for task in [*listeners, beating]:
        task.cancel()
    slow = sorted(
        (round(sent_at, 4), round(latency * 1000, 1))
        for sent_at, latency in zip(sends, latencies, strict=True)
        if latency >= SLOW
    )
    # The messages behind them: which ones were slow, in which room, for how many members.
    slow_messages: dict[float, list] = {}
    for sent_at, latency, room in zip(sends, latencies, rooms_of, strict=True):
        if latency >= SLOW:
            entry = slow_messages.setdefault(sent_at, [round(sent_at, 4), room, 0, 0.0])
            entry[2] += 1
            entry[3] = max(entry[3], round(latency * 1000, 1))
    return {
        "clients": len(people),
        "connected": connected,
        "connect_failures": len(failures),
        "failure_examples": failures[:5],
        "connect_seconds": round(connect_seconds, 1),
        "held_after_fanout": held,
        "closed_early": len(closed_early),
        "server_rss_before_mib": round(rss_idle_before / 1024, 1),
        "server_rss_connected_mib": round(rss_connected / 1024, 1),
        "kib_per_idle_connection": round((rss_connected - rss_idle_before) / max(connected, 1), 1),
        "rooms_sending": len(rooms),
        "messages_sent": sent,
        "deliveries_expected": int(expected),
        "deliveries_received": len(latencies),
        "fanout_p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "fanout_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "server_cpu_share_idle": round(idle_cpu_share, 3),
        # Share of one core each process used while messages were sent.
        "server_cpu_share_during_fanout": round(server_cpu / fanout_wall, 2),
        "client_cpu_share_during_fanout": round(client_cpu / fanout_wall, 2),
        "fanout_max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "fanout_window": [round(fanout_started, 4), round(fanout_started + fanout_wall, 4)],
        # (send time, latency ms) of every delivery slower than SLOW, and the client's
        # own loop stalls: what the probe's record is compared with.
        "slow_deliveries": slow,
        # [send time, room, slow deliveries, slowest ms] per message: kept in the JSON.
        "slow_messages": sorted(slow_messages.values()),
        "client_stalls": client_stalls,
    }


# --- orchestration ------------------------------------------------------------------------
def explain(result: dict, probe: dict) -> dict:
    """The probe's record within the fan-out window, and how many slow deliveries were in
    flight during a stall of the server's event loop or of the client's."""
    start, end = result["fanout_window"]
    end += 3  # the last deliveries

    def within(events: list) -> list:
        return [event for event in events if start <= event[0] <= end]

    def overlaps(delivery: list, stalls: list) -> bool:
        sent_at, latency_ms = delivery
        return any(
            at < sent_at + latency_ms / 1000 and at + lag_ms / 1000 > sent_at
            for at, lag_ms, *_ in stalls
        )

    server_stalls, pauses = within(probe["stalls"]), within(probe["pauses"])
    slow = result["slow_deliveries"]
    return {
        "server_stalls_in_fanout": len(server_stalls),
        "server_stall_max_ms": max((lag for _at, lag in server_stalls), default=0),
        "server_stalls": server_stalls,
        "gc_pauses_in_fanout": pauses,
        "gc_collections_whole_run": probe["collections"],
        "client_stall_max_ms": max((lag for _at, lag in result["client_stalls"]), default=0),
        "slow_deliveries_count": len(slow),
        "slow_during_server_stall": sum(overlaps(d, server_stalls) for d in slow),
        "slow_during_client_stall": sum(overlaps(d, result["client_stalls"]) for d in slow),
    }


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--rooms", type=int, default=50, help="rooms with a sender")
    parser.add_argument("--rate", type=float, default=20, help="messages per second, in all")
    parser.add_argument("--seconds", type=float, default=30, help="length of the fan-out phase")
    parser.add_argument("--parallel", type=int, default=200, help="handshakes in flight")
    parser.add_argument(
        "--database", default="postgres://postgres@127.0.0.1:5432/kreide_messenger_bench"
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="serve bench/messenger/probe.py's application: the server's garbage "
        "collections and event-loop stalls, lined up with the slow deliveries",
    )
    parser.add_argument(
        "--python-gc",
        action="store_true",
        help="with --probe: Python's default full collections instead of Kreide's policy",
    )
    parser.add_argument(
        "--nice", type=int, default=-10, help="niceness of the server and client (0: as is)"
    )
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--people", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    limit = raise_file_limit()
    if options.client:
        print(json.dumps(asyncio.run(client_main(options))))
        return

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "kreide.settings",
            "KREIDE_DATABASE_URL": options.database,
            "KREIDE_REDIS_URL": options.redis,
            "KREIDE_CACHE_PREFIX": "msgbench",
            "KREIDE_DATA_DIR": str(ROOT / "var" / "messenger-bench"),
            # Bench senders write faster than a person; the flood limit is not what is measured.
            "KREIDE_MESSENGER_RATE_LIMIT": "100000",
        }
    )
    ensure_database(options.database)
    subprocess.run([str(BIN / "kreide"), "migrate", "-v0"], check=True, cwd=ROOT)
    people = seed(options.clients)
    people_file = ROOT / "var" / "messenger-bench" / "people.json"
    people_file.write_text(json.dumps(people))

    load_at_start = round(os.getloadavg()[0], 1)
    port = free_port()
    taskset = shutil.which("taskset")
    # Each side on its own core and ahead of other work there (nice): on a shared machine
    # the server and the client would otherwise wait for other processes' time slices,
    # which reads as fan-out latency.
    nice = ["nice", "-n", str(options.nice)] if options.nice else []
    pin = (lambda core: [taskset, "-c", str(core), *nice]) if taskset else (lambda core: nice)
    # The same command line as `kreide serve` uses for the real-time process.
    from kreide.core.management.commands.serve import realtime_command

    command = realtime_command(BIN, "127.0.0.1", port)
    probe_file = ROOT / "var" / "messenger-bench" / "probe.json"
    probe_file.unlink(missing_ok=True)
    if options.probe:
        command[command.index("kreide.asgi:application")] = "bench.messenger.probe:application"
        os.environ["KREIDE_BENCH_PROBE"] = str(probe_file)
        if options.python_gc:
            os.environ["KREIDE_BENCH_PYTHON_GC"] = "1"
    server = subprocess.Popen(pin(0) + command, cwd=ROOT, env=os.environ.copy())
    try:
        wait_for_port(port, server)
        client = subprocess.run(
            pin(1)
            + [
                sys.executable,
                __file__,
                "--client",
                "--people",
                str(people_file),
                "--port",
                str(port),
                "--server-pid",
                str(server.pid),
                "--rooms",
                str(options.rooms),
                "--rate",
                str(options.rate),
                "--seconds",
                str(options.seconds),
                "--parallel",
                str(options.parallel),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if client.returncode != 0:
            sys.exit(f"client failed:\n{client.stderr[-3000:]}")
        result = json.loads(client.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    if options.probe and probe_file.exists():
        result.update(explain(result, json.loads(probe_file.read_text())))
    result.update(
        {
            # A shared machine: the load of other processes says how far to trust figures.
            "load_average_at_start": load_at_start,
            "load_average_at_end": round(os.getloadavg()[0], 1),
            "file_limit": limit,
            "server_core": 0 if taskset else None,
            "nice": options.nice,
            "full_collections": "python" if options.python_gc else "kreide",
            "rate_per_s": options.rate,
            "seconds": options.seconds,
        }
    )
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result.pop("slow_deliveries", None)  # thousands of pairs: counted in the report
    (out / f"{stamp}-{options.clients}.json").write_text(json.dumps(result, indent=1))
    print("\n| measure | value |\n|---|---|")
    for key, value in result.items():
        if not isinstance(value, list) or len(value) <= 5:
            print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
