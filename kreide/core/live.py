"""Live events to open pages over the channel layer, sent from synchronous code (page
requests, workers).

A lost channel layer costs live delivery, never the write: pages whose socket was closed
catch up when it comes back. But a process whose Redis breaker is still open a few seconds
after Redis returned would skip events that sockets, live again by then, never catch up
on. So events that cannot be sent now are held (bounded, for `HOLD_SECONDS`) and sent
by a background thread as soon as the channel layer takes them; pages place events by id,
so one that arrives twice does no harm.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from kreide.core.cache import BREAK_SECONDS
from kreide.core.cache import breaker as redis_breaker

logger = logging.getLogger(__name__)

Event = tuple[str, dict]  # a group on the channel layer and the message for it

# A socket that was closed while Redis was away catches up from the database on its own;
# only events from the first moments after Redis returned need holding.
HOLD_SECONDS = 60.0
HOLD_MAX = 5_000
RETRY_SECONDS = BREAK_SECONDS

_held: deque[tuple[float, Event]] = deque(maxlen=HOLD_MAX)
_lock = threading.Lock()
_retrying = False


def send(events: Sequence[Event]) -> None:
    """Send `events` to their groups now, or hold them for the retrying thread."""
    if not events:
        return
    if redis_breaker.is_open or _in_event_loop() or not _send(events):
        _hold(events)


def held() -> int:
    """How many events wait for the channel layer in this process."""
    return len(_held)


def send_held() -> bool:
    """Send what is held and still fresh; False when the channel layer refused it."""
    with _lock:
        fresh_after = time.monotonic() - HOLD_SECONDS
        fresh = [(stamp, event) for stamp, event in _held if stamp >= fresh_after]
        _held.clear()
    if not fresh or _send([event for _, event in fresh]):
        return True
    with _lock:  # kept with their first stamp, so they still go stale
        _held.extendleft(reversed(fresh))
    return False


def _send(events: Sequence[Event]) -> bool:
    layer = get_channel_layer()

    async def send_all() -> None:  # one event loop and connection for all the groups
        for group, message in events:
            await layer.group_send(group, message)

    try:
        async_to_sync(send_all)()
    except Exception:
        logger.exception("live send failed", extra={"groups": [g for g, _ in events[:10]]})
        return False
    return True


def _in_event_loop() -> bool:
    # async_to_sync refuses a thread that runs an event loop; the retrying thread has none.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _hold(events: Sequence[Event]) -> None:
    global _retrying
    now = time.monotonic()
    with _lock:
        _held.extend((now, event) for event in events)
        if _retrying:
            return
        _retrying = True
    threading.Thread(target=_retry, name="kreide-live-retry", daemon=True).start()


def _retry() -> None:
    global _retrying
    delay = 0.0  # the first try at once: a loop in the caller's thread may be all it was
    while True:
        time.sleep(delay)
        delay = RETRY_SECONDS
        sent = send_held()
        with _lock:
            if sent and not _held:
                _retrying = False
                return
