"""What the deployment tests share: the static files, collected once per run instead of
once per stack (each of `production_stack` and `scale_out` would collect them, ~20 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.wave.stack import collect_static


@pytest.fixture(scope="session")
def static_files(tmp_path_factory) -> Path:
    return collect_static(tmp_path_factory.mktemp("static"))
