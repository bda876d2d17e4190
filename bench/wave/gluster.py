"""A GlusterFS volume on this machine, mounted once per Kreide node through GlusterFS's own
FUSE client — the shared store of docs/scale-out.md over a real network file system, from
Debian's glusterfs-server and glusterfs-client. tests/deploy/test_shared_store.py runs two
nodes on it and takes its server away.

glusterd always listens on port 24007 (its brick processes find it there, whatever its
configuration says), so each volume gets a loopback address of its own (127.x.y.z): runs
side by side never meet. Everything else lives in the work directory; processes are
stopped by PID, mounts unmounted.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GLUSTERD_PORT = 24007
VOLUME = "kreide"
BRICK_LOGS = Path("/var/log/glusterfs/bricks")


def available() -> str | None:
    """Why a volume cannot run here, or None."""
    if shutil.which("glusterd") is None or shutil.which("glusterfs") is None:
        return "glusterfs-server and glusterfs-client are needed (scripts/system-packages.sh test)"
    if os.geteuid() != 0 or not Path("/dev/fuse").exists():
        return "a FUSE mount needs root and /dev/fuse"
    return None


def _free_loopback_address() -> str:
    for _ in range(50):
        address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(2, 254)}"
        with socket.socket() as probe:
            try:
                probe.bind((address, GLUSTERD_PORT))
            except OSError:
                continue
        return address
    raise RuntimeError("no free loopback address for glusterd")


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise RuntimeError(f"GlusterFS: {what} within {seconds} s")


@dataclass
class GlusterVolume:
    work_dir: Path
    address: str
    mounts: list[Path] = field(default_factory=list)

    @property
    def brick(self) -> Path:
        return self.work_dir / "brick"

    def gluster(self, *arguments: str) -> str:
        """The gluster command line, talking to this volume's glusterd."""
        return subprocess.run(
            [
                "gluster",
                f"--glusterd-sock={self.work_dir / 'run' / 'cli.socket'}",
                "--mode=script",
                f"--log-file={self.work_dir / 'log' / 'cli.log'}",
                *arguments,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout

    def _pids(self) -> list[int]:
        files = [self.work_dir / "run" / "glusterd.pid"]
        files += (self.work_dir / "run" / "vols" / VOLUME).glob("*.pid")
        pids = []
        for pid_file in files:
            with contextlib.suppress(FileNotFoundError, ValueError):
                pids.append(int(pid_file.read_text()))
        return pids

    def start_server(self) -> None:
        """glusterd (it starts the brick of the started volume itself)."""
        (self.work_dir / "run" / "cli.socket").unlink(missing_ok=True)
        subprocess.run(
            [
                "glusterd",
                "-f",
                str(self.work_dir / "glusterd.vol"),
                "-p",
                str(self.work_dir / "run" / "glusterd.pid"),
                "-l",
                str(self.work_dir / "log" / "glusterd.log"),
            ],
            check=True,
            timeout=60,
        )
        _wait((self.work_dir / "run" / "cli.socket").exists, 30, "glusterd answers")

    def wait_until_online(self, seconds: float = 30) -> None:
        """Until the brick serves and every mount reads the volume again."""

        def online() -> bool:
            try:
                status = self.gluster("volume", "status", VOLUME, "detail")
            except subprocess.CalledProcessError:
                return False
            if "Online               : Y" not in status:
                return False
            for mount in self.mounts:
                try:
                    os.listdir(mount)
                except OSError:
                    return False
            return True

        _wait(online, seconds, "the volume is online")

    def kill_server(self) -> None:
        """The file server dies at once (glusterd and the brick, SIGKILL); mounts stay."""
        for pid in self._pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in self._pids():
            _wait(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "dies")

    def mount(self, mount_point: Path) -> Path:
        """The volume through its FUSE client (a process of its own per mount, as on a node)."""
        mount_point.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "glusterfs",
                f"--volfile-server={self.address}",
                f"--volfile-id={VOLUME}",
                f"--log-file={self.work_dir / 'log' / (mount_point.name + '.log')}",
                str(mount_point),
            ],
            check=True,
            timeout=60,
        )
        self.mounts.append(mount_point)
        _wait(lambda: os.path.ismount(mount_point), 30, f"{mount_point} is mounted")
        return mount_point


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    return True


@contextlib.contextmanager
def gluster_volume(work_dir: Path) -> Iterator[GlusterVolume]:
    """A one-brick volume under `work_dir`, started; stopped and unmounted on exit."""
    for name in ("work", "run", "log", "brick"):
        (work_dir / name).mkdir(parents=True, exist_ok=True)
    volume = GlusterVolume(work_dir, _free_loopback_address())
    (work_dir / "glusterd.vol").write_text(
        f"""volume management
    type mgmt/glusterd
    option working-directory {work_dir / "work"}
    option run-directory {work_dir / "run"}
    option glusterd-sockfile {work_dir / "run" / "cli.socket"}
    option transport-type socket
    option transport.address-family inet
    option transport.socket.bind-address {volume.address}
    option transport.socket.listen-port {GLUSTERD_PORT}
    option ping-timeout 0
    option event-threads 1
end-volume
"""
    )
    try:
        volume.start_server()
        # `force`: the brick is a directory on the root file system, as GlusterFS warns.
        volume.gluster(
            "volume", "create", VOLUME, "transport", "tcp", f"{volume.address}:{volume.brick}",
            "force",
        )  # fmt: skip
        volume.gluster("volume", "start", VOLUME)
        yield volume
    finally:
        for mount in volume.mounts:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)
        volume.kill_server()
        brick_log = BRICK_LOGS / (str(volume.brick).strip("/").replace("/", "-") + ".log")
        brick_log.unlink(missing_ok=True)
