"""A small client for Janus's HTTP API (VideoRoom plugin): what Kreide does on a server.

Every call opens a short-lived Janus session, attaches the VideoRoom plugin, sends one
synchronous request and destroys the session. Rooms are created with a secret and a list
of allowed join tokens; only Kreide knows the secret and hands out tokens.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import urllib.error
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 3.0


class JanusError(RuntimeError):
    """Janus did not answer, or refused a request."""


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    payload = json.dumps({**body, "transaction": secrets.token_hex(6)}).encode()
    request = urllib.request.Request(  # noqa: S310 - our own configured http URL
        url, data=payload, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = json.load(response)
    except (OSError, ValueError) as error:  # URLError, timeouts, refused, bad JSON
        raise JanusError(f"{url}: {error}") from error
    if answer.get("janus") == "error":
        raise JanusError(answer.get("error", {}).get("reason", "Janus error"))
    return answer


def info(base_url: str) -> dict[str, Any]:
    """GET /info: version and loaded plugins; the health check."""
    try:
        with urllib.request.urlopen(f"{base_url}/info", timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = json.load(response)
    except (OSError, ValueError) as error:
        raise JanusError(f"{base_url}: {error}") from error
    if "janus.plugin.videoroom" not in answer.get("plugins", {}):
        raise JanusError(f"{base_url}: the VideoRoom plugin is not loaded")
    return answer


def videoroom(base_url: str, request: dict[str, Any]) -> dict[str, Any]:
    """Send one synchronous VideoRoom request and return its plugin data."""
    session = _post(base_url, {"janus": "create"})["data"]["id"]
    session_url = f"{base_url}/{session}"
    try:
        handle = _post(session_url, {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        answer = _post(
            f"{session_url}/{handle['data']['id']}", {"janus": "message", "body": request}
        )
    finally:
        with contextlib.suppress(JanusError):  # else the session expires after 60 s
            _post(session_url, {"janus": "destroy"})
    data = answer.get("plugindata", {}).get("data", {})
    if "error" in data:
        raise JanusError(f"VideoRoom {data.get('error_code')}: {data['error']}")
    return data


def create_room(
    base_url: str,
    *,
    room: int,
    secret: str,
    admin_key: str,
    description: str,
    publishers: int,
    bitrate: int,
) -> None:
    request = {
        "request": "create",
        "room": room,
        "secret": secret,
        "description": description[:80],
        "publishers": publishers,
        "bitrate": bitrate,
        "bitrate_cap": True,
        "is_private": True,
        "require_pvtid": True,
        "allowed": [],
        "fir_freq": 10,
        "audiocodec": "opus",
        "videocodec": "vp8",
        "notify_joining": True,
        "permanent": False,
    }
    if admin_key:
        request["admin_key"] = admin_key
    videoroom(base_url, request)


def destroy_room(base_url: str, *, room: int, secret: str) -> None:
    try:
        videoroom(base_url, {"request": "destroy", "room": room, "secret": secret})
    except JanusError as error:
        if "426" not in str(error):  # 426: no such room, already gone
            raise


def allow(base_url: str, *, room: int, secret: str, tokens: list[str], add: bool = True) -> None:
    """Add join tokens to (or remove them from) the room's allowed list."""
    videoroom(
        base_url,
        {
            "request": "allowed",
            "room": room,
            "secret": secret,
            "action": "add" if add else "remove",
            "allowed": tokens,
        },
    )


def kick(base_url: str, *, room: int, secret: str, participant: int) -> None:
    try:
        videoroom(base_url, {"request": "kick", "room": room, "secret": secret, "id": participant})
    except JanusError as error:
        if "428" not in str(error):  # 428: not in the room (any more)
            raise


def participants(base_url: str, *, room: int) -> list[dict[str, Any]]:
    return videoroom(base_url, {"request": "listparticipants", "room": room}).get(
        "participants", []
    )
