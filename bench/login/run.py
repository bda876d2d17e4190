"""Sign-in throughput of one Kreide server: how many students can sign in per second.

Starts `kreide serve` (Granian WSGI workers) against PostgreSQL and Redis on loopback,
creates the demo school in a database of its own, then lets C concurrent clients sign in
(GET the form for the CSRF cookie, POST the credentials, follow to the dashboard) for
D seconds, each sign-in as a different demo student. Reports sign-ins per second and
latency percentiles as Markdown.

    .venv/bin/python bench/login/run.py --clients 8 --seconds 20
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.wave.stack import fresh_database  # noqa: E402

BIN = ROOT / ".venv" / "bin"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def post_credentials(
    connection: http.client.HTTPConnection,
    port: int,
    form: str,
    cookie: str,
    username: str,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    """The sign-in form's POST as a browser sends it (the form's CSRF token, its cookie,
    "stay signed in"); the answer read."""
    body = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": CSRF.search(form).group(1),
            "username": username,
            "password": "kreide-demo",
            "remember": "on",
        }
    )
    connection.request(
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            **(headers or {}),
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "Referer": f"http://127.0.0.1:{port}/accounts/login/",
        },
    )
    response = connection.getresponse()
    response.read()
    return response


def sign_in(port: int, username: str) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/accounts/login/")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    response = post_credentials(connection, port, page, cookie, username)
    if response.status != 302:
        raise RuntimeError(f"sign-in of {username} answered {response.status}")
    session = [
        c.split(";")[0]
        for c in response.headers.get_all("Set-Cookie") or []
        if c.startswith("sessionid")
    ][0]
    connection.request("GET", "/", headers={"Cookie": f"{cookie}; {session}"})
    dashboard = connection.getresponse()
    dashboard.read()
    connection.close()
    if dashboard.status != 200:
        raise RuntimeError(f"dashboard answered {dashboard.status}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--database", default="kreide_bench_login")
    args = parser.parse_args()

    env = {
        **os.environ,
        "KREIDE_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.database}",
        "KREIDE_REDIS_URL": "redis://127.0.0.1:6379/9",
        "KREIDE_DATA_DIR": str(ROOT / "var" / "bench-login"),
        "KREIDE_LOGIN_FAILURES_PER_ADDRESS": "100000",
    }
    fresh_database(args.database)
    subprocess.run(["redis-cli", "-n", "9", "FLUSHDB"], check=True, capture_output=True)
    for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"], ["seed-demo"]):
        subprocess.run([BIN / "kreide", *command], env=env, check=True, capture_output=True)
    usernames = subprocess.run(
        [
            BIN / "kreide",
            "shell",
            "-v",
            "0",
            "-c",
            "from kreide.accounts.models import User;"
            "students = User.objects.filter(role='student');"
            "print('\\n'.join(students.values_list('username', flat=True)))",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()

    server = subprocess.Popen(
        [
            BIN / "kreide",
            "serve",
            "--port",
            str(args.port),
            "--realtime-port",
            str(args.port + 1),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", args.port, timeout=1).request(
                    "GET", "/healthz"
                )
                break
            except OSError:
                time.sleep(0.2)
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        next_user = iter(usernames * 10)
        deadline = time.perf_counter() + args.seconds

        def client() -> None:
            while time.perf_counter() < deadline:
                with lock:
                    username = next(next_user)
                try:
                    elapsed = sign_in(args.port, username)
                except Exception as error:  # counted and reported, the run goes on
                    with lock:
                        errors.append(str(error))
                    continue
                with lock:
                    latencies.append(elapsed)

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=15)

    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"# Sign-in throughput\n\n- machine: {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}"
    )
    print(f"- server: `kreide serve --workers {args.workers}` (Granian WSGI), PostgreSQL, Redis")
    print(
        f"- load: {args.clients} concurrent clients for {args.seconds:.0f} s, each sign-in = "
        "GET form + POST credentials + GET dashboard, a different student each time\n"
    )
    print(
        "| sign-ins | errors | sign-ins/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|"
    )
    print(
        f"| {len(latencies)} | {len(errors)} | {len(latencies) / elapsed:.1f} | "
        f"{statistics.median(latencies) * 1000:.0f} | {pct(0.95):.0f} | {pct(0.99):.0f} |"
    )
    if errors:
        print("\nFirst errors:", *errors[:5], sep="\n- ")


if __name__ == "__main__":
    main()
