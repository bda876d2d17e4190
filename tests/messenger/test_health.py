import asyncio

import pytest

from kreide.messenger import health

pytestmark = pytest.mark.django_db


def test_the_channel_layer_answers():
    assert health.check() is None


def test_the_check_answers_when_its_caller_runs_an_event_loop(monkeypatch):
    """Asked from a thread that runs an event loop (async code; in the tests, Playwright's),
    the channel layer is not reported down."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the tables' query, same thread

    async def from_async_code() -> str | None:
        return health.check()

    assert asyncio.run(from_async_code()) is None
