"""The fault suite's helpers: real processes that the tests break on purpose.

- `redis_server`: an own redis-server on a free loopback port (never the shared one), which
  a test stops, starts again, freezes (SIGSTOP) and thaws;
- `kreide_serve`: starts `kreide serve` (Granian workers, the real-time process, the status
  sampler) on free ports against the PostgreSQL test database, a data directory of its own
  and, if given, that Redis; its children can be listed and killed. With `embedded=True`
  it runs as the embedded default instead (SQLite in its data directory, no Redis), after
  `prepare(env)` (e.g. `kreide migrate` and accounts made with `kreide shell`);
- `signed_in(base_url, username)`: a `requests.Session` signed in through the real form.

Tests here drive several processes: mark them `slow` and `django_db(transaction=True)`, so
what the test writes is committed and visible to the servers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from django.conf import settings
from django.db import connection

from tests.conftest import PASSWORD
from tests.ports import free_port

START_SECONDS = 180  # bounded, and generous: a shared machine under load starts slowly
T = TypeVar("T")


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> object:
    """Polls `condition` until it returns something true; fails the test after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        time.sleep(0.1)


def run_async(coroutine: Coroutine[Any, Any, T], seconds: float = 60) -> T:
    """Runs a coroutine to its end in a thread of its own (once Playwright's browser
    fixture ran, this thread has an event loop already)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, seconds)).result()


def database_url() -> str:
    """The test database as a URL for the server processes (PostgreSQL only)."""
    db = settings.DATABASES["default"]
    if connection.vendor != "postgresql":
        pytest.skip("the fault suite runs its servers on the PostgreSQL test database")
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return f"postgres://{db['USER']}{password}@{host}/{db['NAME']}"


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _stop(process: subprocess.Popen, seconds: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class RedisServer:
    """An own redis-server; `stop()` and `start()` keep its port, so clients reconnect."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )
        wait_for(lambda: _answers(self.port), 10, "redis-server start")

    def stop(self) -> None:
        """Like a crash or a restart: the server and everything it held are gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def freeze(self) -> None:
        """Connections are accepted by the kernel but nothing answers (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None:
            _stop(server.process)


@dataclass
class Serve:
    """A running `kreide serve` with its ports, data directory and log."""

    process: subprocess.Popen
    port: int
    realtime_port: int
    data_dir: Path
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realtime_url(self) -> str:
        return f"ws://127.0.0.1:{self.realtime_port}"

    def children(self) -> dict[str, int]:
        """The direct children of `kreide serve` by role: granian, realtime, sampler, news,
        exports (the worker building people's copies of their data), notifications."""
        found = {}
        for pid in _child_pids(self.process.pid):
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:  # exited meanwhile
                continue
            if "granian" in command:
                found["granian"] = pid
            elif "uvicorn" in command:
                found["realtime"] = pid
            elif "status-sample" in command:
                found["sampler"] = pid
            elif "access-exports" in command:
                found["exports"] = pid
            elif "news-announce" in command:
                found["news"] = pid
            elif "janus-start" in command:
                found["janus"] = pid
            elif "notifications-work" in command:
                found["notifications"] = pid
        return found

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _child_pids(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


@pytest.fixture
def kreide_serve(tmp_path) -> Iterator[Callable[..., Serve]]:
    """Starts `kreide serve` (call it with `redis=` a RedisServer or None, and extra KREIDE_*
    variables); waits until pages and the real-time port answer; stops it afterwards."""
    started: list[Serve] = []

    def start(
        redis: RedisServer | None = None,
        embedded: bool = False,
        prepare: Callable[[dict[str, str]], None] | None = None,
        **variables: str,
    ) -> Serve:
        data_dir = tmp_path / f"serve-{len(started)}"
        data_dir.mkdir()
        port, realtime_port = free_port(), free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("KREIDE_REDIS_URL", "KREIDE_DATABASE_URL")
        }
        # No mail servers or Janus of its own (fixed ports; not what these tests break).
        env.update(KREIDE_DATA_DIR=str(data_dir), KREIDE_WORKERS="2", KREIDE_MAIL="off")
        env.pop("KREIDE_JANUS", None)
        env.update(variables)
        if not embedded:
            env.update(KREIDE_DATABASE_URL=database_url(), KREIDE_DB_CONN_MAX_AGE="0")
        if prepare is not None:
            prepare(env)
        if redis is not None:
            env["KREIDE_REDIS_URL"] = redis.url
            env["KREIDE_CACHE_PREFIX"] = f"faults{port}"
        log = data_dir / "serve.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "kreide"), "serve"]
                + ["--port", str(port), "--realtime-port", str(realtime_port)],
                env=env,
                cwd=settings.BASE_DIR,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        serve = Serve(process, port, realtime_port, data_dir, log)
        started.append(serve)

        def up() -> bool:
            if process.poll() is not None:
                pytest.fail(f"kreide serve exited with {process.returncode}:\n{serve.output()}")
            return _answers(realtime_port) and _healthy(serve.url)

        wait_for(up, START_SECONDS, "kreide serve start")
        return serve

    yield start
    for serve in started:
        _stop(serve.process, 20)
        # Whatever a killed supervisor left behind (its own process group).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.process.pid, signal.SIGKILL)


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def kreide(env: dict[str, str], *arguments: str, stdin: str | None = None) -> str:
    """Runs a `kreide` command with `env` (as an operator would); returns its output."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kreide"), *arguments],
        env=env,
        cwd=settings.BASE_DIR,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def signed_in(base_url: str, username: str, password: str = PASSWORD) -> requests.Session:
    """A session signed in through the real sign-in form (CSRF token and cookie included)."""
    session = requests.Session()
    form = session.get(f"{base_url}/accounts/login/", timeout=10)
    assert form.status_code == 200, form.status_code
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": password},
        headers={"Referer": f"{base_url}/accounts/login/"},
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 302, (answer.status_code, answer.text[:500])
    return session


def csrf_headers(session: requests.Session, base_url: str) -> dict[str, str]:
    """Headers for a JSON or htmx POST by this session."""
    return {"X-CSRFToken": session.cookies.get("csrftoken", ""), "Referer": f"{base_url}/"}
