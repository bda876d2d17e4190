"""The messenger works when its tables answer and a message makes a round trip through the
channel layer the real-time process uses."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from channels.layers import get_channel_layer

from kreide.core import health


def check() -> str | None:
    async def round_trip() -> bool:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.probe"})
        received = await asyncio.wait_for(layer.receive(channel), timeout=3)
        return received.get("type") == "health.probe"

    health.tables_answer("messenger")
    # In a thread of its own: asyncio.run refuses a thread that already runs an event loop
    # (a check asked from async code; in the tests, Playwright's), and the channel layer
    # would then be reported down when it is not.
    with ThreadPoolExecutor(max_workers=1) as runner:
        return None if runner.submit(asyncio.run, round_trip()).result() else "channel layer"
