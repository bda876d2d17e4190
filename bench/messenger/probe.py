"""The real-time application with a probe (bench only, `run.py --probe`): what the server's
event loop did while the bench measured it.

It records every garbage collection that took longer than PAUSE_MS (start, duration,
generation) and every moment the event loop answered a 10 ms timer more than STALL_MS
late (the loop was busy or blocked: a long callback, a collection, the GIL held by a
worker thread). Times are `time.perf_counter()`, which on Linux is CLOCK_MONOTONIC, the
same clock the bench client reads, so stalls line up with slow deliveries. The record is
written every WRITE_EVERY seconds and at exit to the file named by KREIDE_BENCH_PROBE.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import time
from pathlib import Path

from kreide.asgi import application as kreide_application

if os.environ.get("KREIDE_BENCH_PYTHON_GC"):  # the comparison: Python's own full collections
    gc.set_threshold(700, 10, 10)

PAUSE_MS = 2.0
STALL_MS = 20.0
TICK = 0.01
WRITE_EVERY = 2.0

pauses: list[tuple[float, float, int, int]] = []
stalls: list[tuple[float, float]] = []
collections = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}  # generation: [count, seconds]
_collecting_since = 0.0
_heartbeat: asyncio.Task | None = None


def _on_collection(phase: str, info: dict) -> None:
    global _collecting_since
    if phase == "start":
        _collecting_since = time.perf_counter()
        return
    took = time.perf_counter() - _collecting_since
    generation = info["generation"]
    collections[generation][0] += 1
    collections[generation][1] += took
    if took * 1000 >= PAUSE_MS:
        pauses.append(
            (round(_collecting_since, 4), round(took * 1000, 1), generation, info["collected"])
        )


gc.callbacks.append(_on_collection)


async def _beat() -> None:
    expected = time.perf_counter() + TICK
    written = expected
    while True:
        await asyncio.sleep(TICK)
        now = time.perf_counter()
        if (now - expected) * 1000 >= STALL_MS:
            stalls.append((round(expected, 4), round((now - expected) * 1000, 1)))
        if now - written >= WRITE_EVERY:  # a server killed at the end writes nothing
            _write()
            written = time.perf_counter()
        expected = time.perf_counter() + TICK


async def application(scope, receive, send) -> None:
    global _heartbeat
    if _heartbeat is None:
        _heartbeat = asyncio.get_running_loop().create_task(_beat())
    await kreide_application(scope, receive, send)


@atexit.register
def _write() -> None:
    """The record so far, to the file named by KREIDE_BENCH_PROBE."""
    target = os.environ.get("KREIDE_BENCH_PROBE")
    if target:
        Path(target).write_text(
            json.dumps(
                {
                    "pauses": pauses,
                    "stalls": stalls,
                    "collections": {
                        str(generation): {"count": count, "seconds": round(seconds, 3)}
                        for generation, (count, seconds) in collections.items()
                    },
                    "gc_threshold": gc.get_threshold(),
                    "frozen": gc.get_freeze_count(),
                }
            )
        )
