import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from kreide.messenger import health

pytestmark = pytest.mark.django_db


def test_the_channel_layer_answers():
    assert health.check() is None


def test_the_check_answers_when_its_caller_runs_an_event_loop(monkeypatch):
    """Asked from a thread that runs an event loop (async code; in the tests, Playwright's),
    the channel layer is not reported down."""
    monkeypatch.setattr(health.health, "tables_answer", lambda app: None)  # only the layer

    async def from_async_code() -> str | None:
        return health.check()

    # In a thread of its own: this one may run Playwright's loop already.
    with ThreadPoolExecutor(max_workers=1) as caller:
        assert caller.submit(asyncio.run, from_async_code()).result() is None
