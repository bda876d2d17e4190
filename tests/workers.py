"""Each pytest-xdist worker as a run of its own (`make test-postgres` runs several).

Every worker has its own test database (`test_<name>_gw0`, …), cloned from one migrated
once per run (tests/clonedb.py); what else a run owns is chosen here, before Django
reads its settings: Redis db N + k for worker k (N the db in KREIDE_REDIS_URL; the suite's
`cache.clear()` empties the whole db) and the data directory `<KREIDE_DATA_DIR>-gwk`, whose
name also names the databases a test creates (tests/transfer/conftest.py). Server
processes started by tests inherit both. Loaded with `-p tests.workers` (pyproject.toml);
without xdist it changes nothing.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_DBS = 16  # redis-server's default `databases`


def redis_url_for(url: str, worker: int) -> str:
    """The Redis URL of worker `worker`: the same server, db N + worker."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise pytest.UsageError(f"parallel runs need a redis:// KREIDE_REDIS_URL, not {url}")
    db = int(parts.path.strip("/") or 0) + worker
    if db >= REDIS_DBS:
        raise pytest.UsageError(f"worker {worker} would need Redis db {db} (of 0–{REDIS_DBS - 1})")
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config):
    # A wrapper runs before pytest-django's own hook, which loads the settings.
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, … (set by xdist)
    if worker:
        index = int(worker.removeprefix("gw"))
        if os.environ.get("KREIDE_REDIS_URL"):
            os.environ["KREIDE_REDIS_URL"] = redis_url_for(os.environ["KREIDE_REDIS_URL"], index)
        data_dir = os.environ.get("KREIDE_DATA_DIR", str(early_config.rootpath / "var"))
        os.environ["KREIDE_DATA_DIR"] = f"{data_dir.rstrip('/')}-{worker}"
    return (yield)


def pytest_configure(config: pytest.Config) -> None:
    # The workers of a run (not --reuse-db, which keeps each worker's own database).
    if hasattr(config, "workerinput") and not config.getvalue("reuse_db"):
        config.pluginmanager.import_plugin("tests.clonedb")
