"""The live bell: a WebSocket per open page at /ws/notifications/ on the real-time process.

Server to client only: {"type": "notification", "count": n, "text": …, "url": …} when
the delivery worker has something new for this person, and the count on connect. A socket
without a signed-in participant is closed with 4401; a lost channel layer with 4503, and
the page polls `/notifications/count/` until it is back.
"""

from __future__ import annotations

import contextlib
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from kreide.accounts.gate import must_change_password_first
from kreide.messenger.consumers import CLOSE_NOT_SIGNED_IN, CLOSE_UNAVAILABLE, LAYER_FAILURES
from kreide.notifications import services
from kreide.notifications.delivery import user_group


class NotificationConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        self.group = None
        await self.accept()
        if (
            not getattr(user, "is_authenticated", False)
            or user.school_id is None
            or must_change_password_first(user)
        ):
            await self.close(code=CLOSE_NOT_SIGNED_IN, reason="not signed in")
            return
        try:
            await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        except LAYER_FAILURES:
            await self.close(code=CLOSE_UNAVAILABLE, reason="live updates unavailable")
            return
        self.group = user_group(user.pk)
        count = await database_sync_to_async(services.unread_count, thread_sensitive=False)(user)
        await self.send(text_data=json.dumps({"type": "count", "count": count}))

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            with contextlib.suppress(*LAYER_FAILURES):
                await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        """Nothing to say from the client; pings keep proxies from closing the socket."""

    async def notifications_update(self, event: dict) -> None:
        with contextlib.suppress(RuntimeError):  # closed while the event was on its way
            await self.send(text_data=event["text"])
