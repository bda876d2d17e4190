"""What the deployment tests share: the static files, collected once per run instead of
once per stack (each of `production_stack` and `scale_out` would collect them, ~20 s), and
once for all pytest-xdist workers of a run (the first to need them collects, under a lock)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from bench.wave.stack import collect_static


@pytest.fixture(scope="session")
def static_files(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_dir = run_dir.parent  # the workers' base directories sit in the run's
    collected = run_dir / "collected"
    with (run_dir / "collected.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = collected / "done"
        if not done.exists():
            collected.mkdir(exist_ok=True)
            static = collect_static(collected)
            done.write_text(str(static))
        return Path(done.read_text())
