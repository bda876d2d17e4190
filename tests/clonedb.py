"""The test database migrated once per run and cloned for each pytest-xdist worker.

Migrating is most of a worker's set-up (14 s alone, 77 s with three workers migrating at
once on 2 cores). The first worker to need a database migrates the template (the name a
serial run gives its test database; for SQLite a file in the run's temporary directory)
under a lock the run's workers share; each worker then clones it (PostgreSQL: CREATE
DATABASE … TEMPLATE; SQLite: the file copied into the worker's in-memory database). The
last worker to finish drops the template; a crashed run's is replaced by the next run's,
as a serial run replaces its test database. Loaded by tests/workers.py in the workers only.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django import DjangoDbBlocker


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: DjangoDbBlocker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    from django.db import connections
    from django.test.utils import setup_databases
    from pytest_django.fixtures import _get_databases_for_setup

    worker = request.config.workerinput["workerid"]
    verbosity = request.config.option.verbose
    run_dir = tmp_path_factory.getbasetemp().parent  # the run's, holding the workers'
    aliases, serialized = _get_databases_for_setup(request.session.items)
    own = {alias: connections[alias] for alias in aliases}
    names = {alias: connection.settings_dict["NAME"] for alias, connection in own.items()}
    templates = {alias: _template(connection, run_dir) for alias, connection in own.items()}
    with django_db_blocker.unblock():
        with _workers_using(run_dir) as using:
            if not using:
                for alias, connection in own.items():
                    connection.settings_dict["TEST"]["NAME"] = templates[alias]
                setup_databases(verbosity, interactive=False, aliases=aliases)
            using.append(worker)
            for alias, connection in own.items():
                _use_clone(connection, templates[alias], worker, verbosity)
        for alias in serialized:
            own[alias]._test_serialized_contents = own[alias].creation.serialize_db_to_string()
    yield
    with django_db_blocker.unblock():
        for alias, connection in own.items():  # at once with the other workers' drops
            _drop(request, connection, connection.settings_dict["NAME"], names[alias])
        with _workers_using(run_dir) as using:
            using.remove(worker)
            if not using:  # the last worker out
                for alias, connection in own.items():
                    _drop(request, connection, templates[alias], names[alias])


def _template(connection, run_dir: Path) -> str:
    """The name of the database the workers clone: what a serial run would name its test
    database; for SQLite (whose workers test on in-memory databases) a file of the run's."""
    if connection.vendor == "sqlite":
        return str(run_dir / f"{connection.alias}.sqlite3")
    return connection.creation._get_test_db_name()


def _use_clone(connection, template: str, worker: str, verbosity: int) -> None:
    """Points `connection` at a copy of `template` of this worker's own."""
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = (
            f"file:{connection.alias}_{worker}?mode=memory&cache=shared"
        )
        connection.ensure_connection()  # an in-memory database lives as long as this
        with contextlib.closing(sqlite3.connect(template)) as source:
            source.backup(connection.connection)
    else:
        connection.settings_dict["NAME"] = template
        connection.creation.clone_test_db(suffix=worker, verbosity=verbosity)
        connection.creation.setup_worker_connection(worker)  # NAME: the clone's


def _drop(request: pytest.FixtureRequest, connection, name: str, original: str) -> None:
    """Drops the test database `name`; a failure is a warning, as in pytest-django."""
    connection.settings_dict["NAME"] = name
    try:
        connection.creation.destroy_test_db(original, request.config.option.verbose)
    except Exception as error:
        request.node.warn(pytest.PytestWarning(f"dropping test database {name}: {error!r}"))


@contextlib.contextmanager
def _workers_using(run_dir: Path) -> Iterator[list[str]]:
    """The workers using the run's template, read and changed under the run's lock."""
    with (run_dir / "test-database-users").open("a+") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        file.seek(0)
        using = file.read().split()
        yield using
        file.truncate(0)
        file.write(" ".join(using))
