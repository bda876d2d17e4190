"""Full garbage collections in the real-time process: not by Python's growth rule, but
when closed connections left garbage, and at least hourly."""

import asyncio
import gc
from concurrent.futures import ThreadPoolExecutor

import pytest

from kreide.core import fullgc


@pytest.fixture
def policy():
    threshold = gc.get_threshold()
    try:
        yield fullgc.CollectAfterClosings(_app)
    finally:
        gc.set_threshold(*threshold)


async def _app(scope, receive, send) -> None:
    await asyncio.sleep(0)


def test_young_collections_stay_automatic_and_full_ones_do_not(policy):
    young, middle, full = gc.get_threshold()
    assert young > 0 and middle > 0
    assert full >= fullgc.NO_AUTOMATIC_FULL


def test_sockets_are_counted_and_plain_requests_are_not(policy):
    async def scenario() -> None:
        await policy({"type": "websocket"}, None, None)
        await policy({"type": "websocket"}, None, None)
        await policy({"type": "http"}, None, None)
        policy.watcher.cancel()

    # A loop of its own in a thread: browser tests leave the sync Playwright's loop running
    # in the main thread, where asyncio.run() refuses to start.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, scenario()).result()
    assert (policy.open, policy.closed) == (0, 2)


def test_a_full_collection_is_due_after_as_many_closings_as_open_sockets(policy):
    # A round start: a monotonic reading plus an hour, minus the reading, may round to
    # just under an hour (about one run in six failed).
    policy.last_full = 0.0
    now = policy.last_full + 1
    policy.open, policy.closed = 5000, fullgc.MIN_CLOSED
    assert not policy.due(now)
    policy.closed = 5000
    assert policy.due(now)
    policy.open, policy.closed = 10, fullgc.MIN_CLOSED - 1
    assert not policy.due(now)  # a handful of sockets: not for every closing
    assert policy.due(policy.last_full + fullgc.MAX_INTERVAL)
