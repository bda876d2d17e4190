"""The production process set on loopback: nginx in front of `kreide serve`, PostgreSQL and
Redis behind. Used by the 8:00 wave benchmark, `bench/wave/serve-production.sh` and
tests/deploy, so all three run exactly what docs/deployment.md describes. `scale_out`
runs several such nodes behind HAProxy over one database, Redis and file store
(docs/scale-out.md).
"""

from __future__ import annotations

import http.client
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def psql(database: str, *statements: str) -> None:
    """Run SQL as the local PostgreSQL superuser (benchmark setup; trust authentication)."""
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-d", database]
    for statement in statements:
        command += ["-c", statement]
    subprocess.run(command, check=True, capture_output=True)


def fresh_database(name: str) -> None:
    """An empty database `name`, whatever was there before."""
    psql("postgres", f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def collect_static(target: Path) -> Path:
    """Static files collected (and compressed) once into `target`/static, for stacks started
    with `static_from` (collecting takes ~20 s per stack otherwise)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("KREIDE_")}
    env["KREIDE_DATA_DIR"] = str(target)
    subprocess.run(
        [str(BIN / "kreide"), "collectstatic", "--noinput", "-v0"],
        env=env,
        check=True,
        capture_output=True,
    )
    return target / "static"


@dataclass
class Stack:
    url: str
    env: dict[str, str]
    server: subprocess.Popen
    nginx_pid: int
    serve_command: list[str]
    log: BinaryIO
    nice: int = 0

    @property
    def server_pid(self) -> int:
        return self.server.pid

    def kreide(self, *args: str) -> str:
        """Run a management command against this stack's database and cache."""
        return subprocess.run(
            [str(BIN / "kreide"), *args], env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def kill(self) -> None:
        """The node dies at once, as with a power cut: `kreide serve` with all its children
        (its own process group) and its nginx, SIGKILL."""
        for group in (self.server_pid, self.nginx_pid):
            with suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)

    def restart_server(self) -> None:
        """`kreide serve` stopped as systemd stops it (SIGTERM, its children finish what they
        are doing) and started again, e.g. on new code; nginx stays."""
        _stop(self.server)
        self.server = _start_server(self.serve_command, self.env, self.log, self.nice)
        _wait_for(int(self.env["KREIDE_PORT"]), "/healthz", self.server, "kreide serve")


def _start_server(
    command: list[str], env: dict[str, str], log: BinaryIO, nice: int = 0
) -> subprocess.Popen:
    # An own process group, so `Stack.kill` takes it with all its children.
    server = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    autogroup_nice(server.pid, nice)
    return server


def autogroup_nice(pid: int, nice: int) -> None:
    """The scheduling priority of `pid`'s session (its autogroup) against other sessions.

    With the kernel's autogroups (sched_autogroup_enabled, most distributions) every
    session shares the CPU equally with every other session and `nice` weighs threads only
    within their own: a server started in a session of its own at nice -10 got 29 % of its
    pinned core beside a few busy test runs (bench/login/per_core.py). Without autogroups,
    or without the right to raise a priority, nothing changes."""
    if nice:
        with suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(str(nice))


def _wait_for(port: int, path: str, process: subprocess.Popen, what: str) -> None:
    for _ in range(900):  # bounded: 3 minutes (a loaded machine starts slowly)
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer on port {port}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            # And its process group (servers here start in their own): no orphaned children.
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def production_stack(
    work_dir: Path,
    database_url: str,
    redis_url: str,
    *,
    workers: int = 2,
    settings: dict[str, str] | None = None,
    server_cpus: str | None = None,
    setup: tuple[tuple[str, ...], ...] = (("migrate", "-v0"),),
    static_from: Path | None = None,
    nice: int = 0,
    nginx_args: tuple[str, ...] = (),
) -> Iterator[Stack]:
    """nginx + `kreide serve` on free loopback ports; both stopped by PID on exit.

    `settings` adds KREIDE_* variables (e.g. KREIDE_ADMISSION=false for the naive run);
    `server_cpus` pins the server processes with taskset (e.g. "0"), `nice` changes their
    scheduling priority (negative: ahead of other work on a shared machine); `static_from` reuses
    static files another stack collected (collecting and compressing them takes ~20 s).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    port, wsgi_port, asgi_port = free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("KREIDE_")}
    env.update(
        {
            "KREIDE_DATA_DIR": str(work_dir / "data"),
            "KREIDE_DATABASE_URL": database_url,
            "KREIDE_REDIS_URL": redis_url,
            "KREIDE_CACHE_PREFIX": f"stack{port}",
            "KREIDE_DOWNLOAD_OFFLOAD": "nginx",
            "KREIDE_REALTIME_URL": "/ws/messenger/",
            "KREIDE_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "KREIDE_TRUSTED_PROXIES": "127.0.0.1",
            "KREIDE_PORT": str(wsgi_port),
            "KREIDE_REALTIME_PORT": str(asgi_port),
            "KREIDE_WORKERS": str(workers),
            # The stack measures and tests pages; mail servers of its own would take the
            # machine's mail ports and outlive a stack stopped by PID.
            "KREIDE_MAIL": "off",
            **(settings or {}),
        }
    )
    kreide = [str(BIN / "kreide")]
    collect: tuple[tuple[str, ...], ...] = (("collectstatic", "--noinput", "-v0"),)
    if static_from is not None:
        (work_dir / "data").mkdir(exist_ok=True)
        link = work_dir / "data" / "static"
        link.unlink(missing_ok=True)  # a step run again in the same folder
        link.symlink_to(static_from.resolve())
        collect = ()
    for command in (*setup, *collect):
        subprocess.run([*kreide, *command], env=env, check=True, capture_output=True)
    run_dir = work_dir / "nginx"
    run_dir.mkdir(exist_ok=True)
    config = run_dir / "nginx.conf"
    config.write_text(
        subprocess.run(
            [
                *kreide,
                "nginx-config",
                "--listen",
                f"127.0.0.1:{port}",
                "--wsgi",
                f"127.0.0.1:{wsgi_port}",
                "--asgi",
                f"127.0.0.1:{asgi_port}",
                "--run-dir",
                str(run_dir),
                "--access-log",
                "off",
                "--user",
                pwd.getpwuid(os.getuid()).pw_name,  # workers may read the temporary files
                *nginx_args,
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    pin = ["taskset", "-c", server_cpus] if server_cpus else []
    if nice:
        pin = ["nice", "-n", str(nice), *pin]
    log = (work_dir / "server.log").open("ab")
    serve_command = [*pin, *kreide, "serve"]
    stack = Stack(
        "", env, _start_server(serve_command, env, log, nice), 0, serve_command, log, nice
    )
    nginx = None
    try:
        _wait_for(wsgi_port, "/healthz", stack.server, "kreide serve")
        nginx = subprocess.Popen(
            [*pin, "nginx", "-c", str(config), "-p", str(run_dir), "-g", "daemon off;"],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        autogroup_nice(nginx.pid, nice)
        _wait_for(port, "/healthz", nginx, "nginx")
        stack.url, stack.nginx_pid = f"http://127.0.0.1:{port}", nginx.pid
        yield stack
    finally:
        if nginx is not None:
            _stop(nginx)
        _stop(stack.server)
        log.close()


@dataclass
class Cluster:
    """Several nodes behind HAProxy: `url` is HAProxy, `nodes[i].url` a node's own nginx."""

    url: str
    nodes: list[Stack]
    haproxy_socket: Path

    def haproxy(self, command: str) -> str:
        """A command on HAProxy's admin socket (e.g. "show stat")."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.haproxy_socket))
            admin.sendall(command.encode() + b"\n")
            answer = b""
            while chunk := admin.recv(65536):
                answer += chunk
        return answer.decode()

    def node_states(self) -> dict[str, str]:
        """HAProxy's view of each node: "UP", "DOWN", "UP 1/2" (going down) ..."""
        states = {}
        for line in self.haproxy("show stat").splitlines():
            fields = line.split(",")
            if len(fields) > 17 and fields[0] == "kreide_nodes" and fields[1].startswith("node"):
                states[fields[1]] = fields[17]
        return states


@contextmanager
def scale_out(
    work_dir: Path,
    database_url: str,
    redis_url: str,
    *,
    nodes: int = 2,
    workers: int = 1,
    settings: dict[str, str] | None = None,
    static_from: Path | None = None,
    storage_dirs: Sequence[Path] = (),
) -> Iterator[Cluster]:
    """`nodes` whole nodes (nginx + `kreide serve` each, data directories of their own) that
    share the database, Redis (one cache prefix), the file store and the secret key, behind
    HAProxy from `kreide haproxy-config`; everything stopped by PID on exit. Without
    `static_from` the first node collects the static files and the others reuse them.

    The store is one directory unless `storage_dirs` gives each node its own mount of a
    shared file system (bench/wave/gluster.py)."""
    import secrets
    from contextlib import ExitStack

    shared = {
        "KREIDE_STORAGE_DIR": str(work_dir / "shared-store"),
        "KREIDE_SECRET_KEY": secrets.token_urlsafe(50),
        "KREIDE_CACHE_PREFIX": f"cluster{free_port()}",
        **(settings or {}),
    }
    with ExitStack() as running:
        stacks: list[Stack] = []
        for number in range(nodes):
            stacks.append(
                running.enter_context(
                    production_stack(
                        work_dir / f"node{number + 1}",
                        database_url,
                        redis_url,
                        workers=workers,
                        settings={
                            **shared,
                            **(
                                {"KREIDE_STORAGE_DIR": str(storage_dirs[number])}
                                if storage_dirs
                                else {}
                            ),
                            "KREIDE_NODE_NAME": f"node{number + 1}",
                        },
                        setup=(("migrate", "-v0"),) if number == 0 else (),
                        static_from=(
                            static_from
                            if static_from is not None or number == 0
                            else work_dir / "node1" / "data" / "static"
                        ),
                        nginx_args=("--real-ip-from", "127.0.0.1"),
                    )
                )
            )
        run_dir = work_dir / "haproxy"
        run_dir.mkdir(exist_ok=True)
        port = free_port()
        config = run_dir / "haproxy.cfg"
        config.write_text(
            stacks[0].kreide(
                "haproxy-config",
                "--listen",
                f"127.0.0.1:{port}",
                "--run-dir",
                str(run_dir),
                "--check-host",
                "127.0.0.1",
                "--maxconn",
                "4000",  # within this machine's file descriptor limit
                *(argument for stack in stacks for argument in ("--node", stack.url[7:])),
            )
        )
        log = (work_dir / "haproxy.log").open("ab")
        running.callback(log.close)
        haproxy = subprocess.Popen(
            ["haproxy", "-f", str(config), "-db"], stdout=log, stderr=log, start_new_session=True
        )
        running.callback(_stop, haproxy)
        cluster = Cluster(f"http://127.0.0.1:{port}", stacks, run_dir / "haproxy.sock")
        # Bounded: 3 minutes (a loaded machine starts slowly) until every node passed its
        # health checks.
        for _ in range(900):
            if haproxy.poll() is not None:
                raise RuntimeError(f"haproxy exited with {haproxy.returncode}")
            try:
                states = cluster.node_states()
            except OSError:
                states = {}
            if len(states) == nodes and all(state == "UP" for state in states.values()):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"HAProxy never saw every node up: {states}")
        yield cluster
