"""Live events: sent at once when the channel layer takes them, held and sent by a thread
of their own when it does not (a breaker still open after Redis returned, a failing
layer), and dropped once stale."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from kreide.core import live
from kreide.core.cache import breaker

GROUP = "test.live"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(live, "RETRY_SECONDS", 0.05)
    yield
    live._held.clear()
    live._retrying = False
    breaker.succeeded()


def _wait_until_settled(seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while live._retrying and time.monotonic() < deadline:
        time.sleep(0.01)


def _listen(send, count: int) -> list[dict]:
    """Subscribe to GROUP, run `send` in a plain thread, return the `count` events that
    arrived (a TimeoutError when fewer did)."""

    async def exchange() -> list[dict]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(GROUP, channel)
        await asyncio.to_thread(send)
        await asyncio.to_thread(_wait_until_settled)
        return [await asyncio.wait_for(layer.receive(channel), 10) for _ in range(count)]

    with ThreadPoolExecutor(1) as pool:  # no event loop of the test's own in the way
        return pool.submit(async_to_sync(exchange)).result()


def _event(text: str) -> live.Event:
    return (GROUP, {"type": "test.event", "text": text})


def test_events_are_sent_at_once():
    arrived = _listen(lambda: live.send([_event("eins"), _event("zwei")]), 2)
    assert [m["text"] for m in arrived] == ["eins", "zwei"]
    assert live.held() == 0 and not live._retrying


def test_an_event_meeting_an_open_breaker_still_arrives():
    # A page request in a process whose breaker is still open after Redis returned.
    breaker.failed()
    arrived = _listen(lambda: live.send([_event("nach dem Ausfall")]), 1)
    assert [m["text"] for m in arrived] == ["nach dem Ausfall"]
    assert live.held() == 0


def test_events_the_layer_refused_are_sent_by_the_retrying_thread(monkeypatch):
    layer = get_channel_layer()
    real_send = layer.group_send
    refusals = []

    async def refusing_twice(group, message):
        if len(refusals) < 2:
            refusals.append(message["text"])
            raise ConnectionError("redis away")
        await real_send(group, message)

    monkeypatch.setattr(layer, "group_send", refusing_twice)
    arrived = _listen(lambda: live.send([_event("gehalten")]), 1)
    assert refusals == ["gehalten", "gehalten"]  # the request's try, the thread's first
    assert [m["text"] for m in arrived] == ["gehalten"]
    assert live.held() == 0


def test_stale_events_are_dropped(monkeypatch):
    layer = get_channel_layer()

    async def refusing(group, message):
        raise ConnectionError("redis away")

    monkeypatch.setattr(layer, "group_send", refusing)
    monkeypatch.setattr(live, "_retry", lambda: None)  # no thread: this test sends
    live.send([_event("alt")])
    assert live.held() == 1
    monkeypatch.setattr(live, "HOLD_SECONDS", 0.0)
    assert live.send_held() is True  # nothing fresh left to send
    assert live.held() == 0
