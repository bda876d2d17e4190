"""Run a local Janus: write its configuration from scripts/janus/templates and start it.

Used by `kreide janus-start` (for `make run`) and by the test fixtures, so both run Janus
the same way. The process is stopped by its PID, never by name.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

from django.conf import settings

from kreide.video import janus

JANUS_BINARY = "/usr/bin/janus"
TEMPLATES = Path(settings.BASE_DIR) / "scripts" / "janus" / "templates"


@dataclass
class JanusProcess:
    process: subprocess.Popen | None
    api_url: str
    ws_url: str
    admin_key: str
    config_dir: Path

    def launch(self, ready_timeout: float = 15.0) -> None:
        """Run Janus on the written configuration and wait (bounded) until it answers."""
        with open(self.config_dir / "janus.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    JANUS_BINARY,
                    "-F",
                    str(self.config_dir),
                    "-C",
                    str(self.config_dir / "janus.jcfg"),
                    "-o",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ},
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Janus exited with {self.process.returncode}; see {self.config_dir}/janus.log"
                )
            try:
                janus.info(self.api_url)
                return
            except janus.JanusError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("Janus did not answer in time") from None
                time.sleep(0.1)

    def restart(self) -> None:
        """Stop and start again on the same ports: every session and room is gone."""
        self.stop()
        self.launch()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def available() -> bool:
    return Path(JANUS_BINARY).exists()


def write_config(
    config_dir: Path,
    *,
    host: str,
    http_port: int,
    ws_port: int,
    rtp_ports: tuple[int, int],
    admin_key: str,
    ice_interface: str = "",
    debug_level: int = 2,
) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "config_dir": str(config_dir),
        "host": host,
        "http_port": http_port,
        "ws_port": ws_port,
        "rtp_port_range": f"{rtp_ports[0]}-{rtp_ports[1]}",
        "admin_key": admin_key,
        "admin_secret": secrets.token_urlsafe(24),
        "debug_level": debug_level,
        # Janus gathers no candidates on loopback; in a namespace a veth carries them.
        "ice_enforce_line": f'ice_enforce_list = "{ice_interface}"' if ice_interface else "",
    }
    for template in TEMPLATES.glob("*.jcfg"):
        (config_dir / template.name).write_text(Template(template.read_text()).substitute(values))


def start(
    config_dir: Path,
    *,
    host: str = "127.0.0.1",
    http_port: int = 8088,
    ws_port: int = 8188,
    rtp_ports: tuple[int, int] = (20000, 20100),
    ice_interface: str = "",
    admin_key: str | None = None,
    ready_timeout: float = 15.0,
) -> JanusProcess:
    """Start Janus and wait (bounded) until its HTTP API answers."""
    if not available():
        raise FileNotFoundError(f"{JANUS_BINARY} is not installed (Debian package 'janus')")
    admin_key = admin_key or secrets.token_urlsafe(24)
    write_config(
        config_dir,
        host=host,
        http_port=http_port,
        ws_port=ws_port,
        rtp_ports=rtp_ports,
        admin_key=admin_key,
        ice_interface=ice_interface,
    )
    started = JanusProcess(
        None, f"http://{host}:{http_port}/janus", f"ws://{host}:{ws_port}", admin_key, config_dir
    )
    started.launch(ready_timeout)
    return started


def remove_config(config_dir: Path) -> None:
    shutil.rmtree(config_dir, ignore_errors=True)
