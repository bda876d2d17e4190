"""Full garbage collections in the real-time process: rare, and when they pay.

A full collection walks every object the process holds; with 10,000 open WebSockets that
is millions of objects and stops the event loop for a second or more, during which no
message reaches anyone (bench/messenger: the fan-out's p99 tail). Python starts one
whenever the objects that survived two young collections grew by a quarter since the
last, which with thousands of connections and their messages happens in the middle of
the school morning. Young collections walk only young objects and stay automatic.

Here full collections run when there is garbage to expect: when as many connections
closed as are open now (at least MIN_CLOSED: what a closed connection leaves in cycles is
freed then), and at least every MAX_INTERVAL.
"""

from __future__ import annotations

import asyncio
import gc
import time

# Python's default is 10 young collections; this many means never by itself.
NO_AUTOMATIC_FULL = 1_000_000_000
MIN_CLOSED = 1_000
MAX_INTERVAL = 3600.0
CHECK_EVERY = 30.0


class CollectAfterClosings:
    """ASGI middleware that counts WebSockets and runs the full collections."""

    def __init__(self, app) -> None:
        self.app = app
        self.open = self.closed = 0
        self.last_full = time.monotonic()
        self.watcher: asyncio.Task | None = None
        gc.set_threshold(*gc.get_threshold()[:2], NO_AUTOMATIC_FULL)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        if self.watcher is None:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())
        self.open += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1
            self.closed += 1

    def due(self, now: float) -> bool:
        return self.closed >= max(MIN_CLOSED, self.open) or now - self.last_full >= MAX_INTERVAL

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            now = time.monotonic()
            if self.due(now):
                gc.collect()
                self.closed, self.last_full = 0, now
