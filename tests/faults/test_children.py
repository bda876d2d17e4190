"""Each child of `kreide serve` killed in turn: it is started again, pages are served
meanwhile, the restart is logged and shown on /status."""

from __future__ import annotations

import os
import signal

import pytest
import requests

from tests.faults.conftest import run_async, signed_in, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TIMEOUT = 10
# Killed in this order (the page server last); how /status names each.
SHOWN_AS = {
    "realtime": "Echtzeit-Server (Messenger)",
    "sampler": "Statusprüfungen",
    "exports": "Kopien personenbezogener Daten",
    "news": "Geplante Nachrichten",
    "granian": "Seitenserver",
}


def _realtime_answers(serve) -> bool:
    """The real-time process completes a WebSocket handshake (its answer to a signed-out
    socket: accepted, then closed with 4401)."""
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def handshake() -> bool:
        async with connect(
            f"{serve.realtime_url}/ws/messenger/",
            additional_headers={"Origin": serve.url},
            open_timeout=2,
        ) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 2)
            except ConnectionClosed as closed:
                return closed.rcvd is not None and closed.rcvd.code == 4401
        return False

    try:
        return run_async(handshake())
    except (OSError, TimeoutError, ConnectionClosed):
        return False


def test_each_killed_child_is_started_again_and_pages_keep_working(
    world, redis_server, kreide_serve
):
    # One server for all the kills: starting `kreide serve` is the slow part.
    serve = kreide_serve(redis=redis_server)
    student = signed_in(serve.url, world.student_7a.username)
    for child in SHOWN_AS:
        before = serve.children()
        assert set(before) >= {"granian", "realtime", "sampler", "exports", "news"}

        os.kill(before[child], signal.SIGKILL)

        if child != "granian":
            # The page server was not touched: pages answer all along.
            for _ in range(5):
                assert student.get(f"{serve.url}/", timeout=TIMEOUT).status_code == 200
        restarted = wait_for(
            lambda old=before[child], name=child: (
                serve.children().get(name) not in (None, old) and serve.children()
            ),
            30,
            f"restart of {child}",
        )
        assert serve.process.poll() is None  # the supervisor itself keeps running
        assert restarted[child] != before[child]
        wait_for(
            lambda: _pages_answer(student, serve.url) and _realtime_answers(serve),
            60,
            f"pages and sockets after the restart of {child}",
        )
        status_page = requests.get(f"{serve.url}/status", timeout=TIMEOUT).text
        assert "Automatisch neu gestartet" in status_page
        assert SHOWN_AS[child] in status_page
    assert serve.output().count('"child exited, starting it again"') == len(SHOWN_AS)


def _pages_answer(session: requests.Session, url: str) -> bool:
    try:
        return session.get(f"{url}/", timeout=TIMEOUT).status_code == 200
    except requests.RequestException:
        return False
