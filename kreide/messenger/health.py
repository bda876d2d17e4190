"""The messenger works when its tables answer and a message makes a round trip through the
channel layer the real-time process uses."""

import asyncio

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
    return None if asyncio.run(round_trip()) else "channel layer"
