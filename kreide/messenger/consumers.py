"""The WebSocket endpoint of the messenger, served by the separate ASGI process.

Protocol (JSON text frames). Client to server:
  {"type": "send", "room": 7, "text": "…", "key": "<idempotency key>", "attachment": 3?}
  {"type": "sync", "room": 7, "after": 1234, "since": "<now of the last sync>"}
                                                 everything since message 1234, in batches,
                                                 and older messages changed since then
  {"type": "read", "room": 7, "upto": 1240}
  {"type": "edit", "id": 1235, "text": "…"} / {"type": "delete", "id": 1235}
  {"type": "ping"}
Server to client: "hello" (room ids), "ack" (own message stored), "message" (new, edited
or deleted message), "sync" (a catch-up batch, with "more"), "room" (settings changed),
"rooms" (membership changed), "error" (refused, with code and a translated message),
"pong". Anything else closes the connection with code 4400 and a reason; a socket without
a signed-in user is closed with 4401, one whose initial password must be changed first
with 4403.

While Redis (the channel layer) is away or after it restarted, sockets are closed with
4503: live delivery is broken or has missed messages, so the client reconnects with
backoff (polling meanwhile) and catches up. A message stored before that is acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

import redis.asyncio
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from kreide.accounts.gate import must_change_password_first
from kreide.core import jsonbody, redis_url
from kreide.core.ids import parse_id
from kreide.messenger import services
from kreide.messenger.services import MessengerError

MAX_FRAME_CHARS = 16_000
# Frames per connection: a token bucket refilled at FRAME_RATE per second up to FRAME_BURST.
FRAME_RATE, FRAME_BURST = 5.0, 40.0

CLOSE_NOT_SIGNED_IN = 4401
CLOSE_PASSWORD_CHANGE = 4403
CLOSE_MALFORMED = 4400
CLOSE_TOO_LARGE = 4413
CLOSE_FLOODING = 4429
CLOSE_UNAVAILABLE = 4503
# How often the real-time process asks Redis whether it is still the same server.
WATCH_SECONDS = 2.0
# What a lost or frozen Redis raises in the channel layer.
LAYER_FAILURES = (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)
LAYER_TIMEOUTS = (redis.exceptions.TimeoutError, asyncio.TimeoutError)
# Answers in a row later than the timeout before Redis counts as lost (a refusal counts at
# once): a frozen Redis is noticed within about 3 × WATCH_SECONDS.
LATE_BEFORE_LOST = 3

logger = logging.getLogger(__name__)
_sockets: weakref.WeakSet = weakref.WeakSet()
_watcher: asyncio.Task | None = None


async def _watch_redis() -> None:
    """Closes every socket of this process with 4503 when Redis stops answering or is
    replaced (a new run_id: its subscriptions and whatever was published meanwhile are
    gone), so that clients reconnect and catch up instead of waiting for nothing."""
    client = redis_url.async_client(settings.REDIS_URL, settings.REDIS_TIMEOUT)
    known, late = None, 0
    while True:
        try:
            server = (await client.info("server"))["run_id"]
            late = 0
        except LAYER_TIMEOUTS:
            # Late is not lost: this event loop may be what is late (10,000 handshakes at
            # once held it past the timeout and closed every socket). Lost after a few.
            late += 1
            server = None if late >= LATE_BEFORE_LOST else known
        except LAYER_FAILURES:
            server = None
        if server != known and known is not None:
            logger.warning("redis lost or replaced: closing %d sockets", len(_sockets))
            for consumer in list(_sockets):
                await consumer.close(code=CLOSE_UNAVAILABLE, reason="live updates interrupted")
        known = server
        await asyncio.sleep(WATCH_SECONDS)


def _watch() -> None:
    global _watcher
    if settings.REDIS_URL and (_watcher is None or _watcher.done()):
        _watcher = asyncio.get_running_loop().create_task(_watch_redis())


class Malformed(ValueError):
    pass


def _id(frame: dict, name: str, default: int | None = None) -> int:
    value = frame.get(name, default)
    if isinstance(value, str):  # ids are JSON numbers in frames
        raise Malformed(name)
    try:
        return parse_id(value)
    except ValueError:
        raise Malformed(name) from None


def _str(frame: dict, name: str) -> str:
    value = frame.get(name, "")
    if not isinstance(value, str):
        raise Malformed(name)
    return value


class MessengerConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except LAYER_FAILURES:
            if hasattr(self, "channel_name"):  # failed later, with the socket open: a bug
                raise
            # Redis was away before the socket opened (its channel could not be made):
            # answer the handshake and say so, rather than an HTTP 500.
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send(
                {"type": "websocket.close", "code": CLOSE_UNAVAILABLE, "reason": "unavailable"}
            )

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.user = None
        self.rooms: set[int] = set()
        await self.accept()
        if not getattr(user, "is_authenticated", False) or user.school_id is None:
            await self.close(code=CLOSE_NOT_SIGNED_IN, reason="not signed in")
            return
        if must_change_password_first(user):
            await self.close(code=CLOSE_PASSWORD_CHANGE, reason="change the initial password first")
            return
        self.user = user
        self.language = self._language()
        self.tokens, self.refilled = FRAME_BURST, time.monotonic()
        _watch()
        try:
            await self.channel_layer.group_add(services.user_group(user.pk), self.channel_name)
            await self._subscribe()
        except LAYER_FAILURES:
            logger.warning("channel layer unavailable: socket refused with 4503")
            await self.close(code=CLOSE_UNAVAILABLE, reason="live updates unavailable")
            return
        _sockets.add(self)

    async def disconnect(self, code: int) -> None:
        _sockets.discard(self)
        if self.user is None:
            return
        groups = [services.user_group(self.user.pk), *map(services.room_group, self.rooms)]
        with contextlib.suppress(*LAYER_FAILURES):  # a lost Redis forgot them already
            for group in groups:
                await self.channel_layer.group_discard(group, self.channel_name)

    def _language(self) -> str:
        cookie = self.scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME, "")
        try:
            return translation.get_supported_language_variant(cookie)
        except LookupError:
            return settings.LANGUAGE_CODE

    async def _subscribe(self) -> None:
        """Join the groups of the user's current rooms, leave those of former rooms."""
        rooms = set(await self._call(services.room_ids_for, self.user))
        for room_id in rooms - self.rooms:
            await self.channel_layer.group_add(services.room_group(room_id), self.channel_name)
        for room_id in self.rooms - rooms:
            await self.channel_layer.group_discard(services.room_group(room_id), self.channel_name)
        self.rooms = rooms
        await self._send({"type": "hello", "rooms": sorted(rooms)})

    async def _call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run a service function in a worker thread, in the user's language (so refusal
        messages are translated where they are made)."""

        def run() -> Any:
            with translation.override(self.language):
                try:
                    return function(*args)
                except MessengerError as error:
                    error.message = str(error.message)
                    raise

        # Not thread-sensitive: each call is self-contained (its own transaction), so calls
        # of many connections run side by side in the thread pool instead of one by one.
        return await database_sync_to_async(run, thread_sensitive=False)()

    async def _send(self, payload: dict[str, Any]) -> None:
        # Closed meanwhile (client gone, ping timeout): there is nobody left to tell.
        with contextlib.suppress(RuntimeError):
            await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    def _flooding(self) -> bool:
        now = time.monotonic()
        self.tokens = min(FRAME_BURST, self.tokens + (now - self.refilled) * FRAME_RATE)
        self.refilled = now
        self.tokens -= 1
        return self.tokens < 0

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None):
        if self.user is None:
            return
        if text_data is None:
            await self.close(code=CLOSE_MALFORMED, reason="text frames only")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.close(code=CLOSE_TOO_LARGE, reason="frame too large")
            return
        if self._flooding():
            await self.close(code=CLOSE_FLOODING, reason="too many frames")
            return
        try:
            frame = jsonbody.loads(text_data)
            if not isinstance(frame, dict):
                raise Malformed("frame")
            handler = self.handlers.get(frame.get("type"))
            if handler is None:
                raise Malformed("type")
            await handler(self, frame)
        except (ValueError, Malformed):
            await self.close(code=CLOSE_MALFORMED, reason="malformed frame")
        except MessengerError as error:
            await self._send(
                {
                    "type": "error",
                    "code": error.code,
                    "message": error.message,
                    "key": frame.get("key"),
                }
            )

    async def on_send(self, frame: dict) -> None:
        attachment = frame.get("attachment")
        sent = await self._call(
            services.send_message,
            self.user,
            _id(frame, "room"),
            _str(frame, "text"),
            _str(frame, "key"),
            None if attachment is None else _id(frame, "attachment"),
        )
        delivered = True
        if sent.created:  # committed: everyone in the room hears of it, even if this
            # connection drops before its ack goes out
            try:
                await self.channel_layer.group_send(
                    services.room_group(sent.message["room"]),
                    services.channel_event({"type": "message", "message": sent.message}),
                )
            except LAYER_FAILURES:  # stored all the same: the others catch up
                delivered = False
        await self._send({"type": "ack", "key": frame["key"], "message": sent.message})
        if not delivered:
            await self.close(code=CLOSE_UNAVAILABLE, reason="live updates interrupted")

    async def on_sync(self, frame: dict) -> None:
        room_id, after = _id(frame, "room"), _id(frame, "after", 0)
        batch = await self._call(self._catch_up, room_id, after, frame.get("since"))
        await self._send({"type": "sync", "room": room_id, **batch})

    def _catch_up(self, room_id: int, after: int, since: str | None) -> dict:
        return services.catch_up(services.member_of(self.user, room_id), after, since)

    async def on_read(self, frame: dict) -> None:
        await self._call(services.mark_read, self.user, _id(frame, "room"), _id(frame, "upto"))

    async def on_edit(self, frame: dict) -> None:
        # The service broadcasts the change to the room once it committed.
        await self._call(services.edit_message, self.user, _id(frame, "id"), _str(frame, "text"))

    async def on_delete(self, frame: dict) -> None:
        await self._call(services.delete_message, self.user, _id(frame, "id"))

    async def on_ping(self, frame: dict) -> None:
        await self._send({"type": "pong"})

    handlers = {
        "send": on_send,
        "sync": on_sync,
        "read": on_read,
        "edit": on_edit,
        "delete": on_delete,
        "ping": on_ping,
    }

    async def messenger_event(self, event: dict) -> None:
        """A committed change in one of the user's rooms, already serialized once."""
        if event.get("rooms"):
            await self._subscribe()
            return
        with contextlib.suppress(RuntimeError):  # closed while the event was on its way
            await self.send(text_data=event["text"])
