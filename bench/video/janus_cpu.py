"""Janus CPU per forwarded stream for a small room, measured from /proc on this machine.

N headless Chromium clients with fake cameras join one lesson through Kreide's lesson
page (everyone sends video: classroom mode off) and receive everyone else. Once every
client decodes video, Janus's CPU time (utime + stime of its process) is sampled over a
fixed window. Runs under pytest inside the network namespace (see docs/video.md):

    KREIDE_TESTING=true KREIDE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kreide_video \
      scripts/janus/in-netns.sh .venv/bin/pytest bench/video/janus_cpu.py -s -p no:randomly

Results are printed and appended to bench/video/results.txt.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kreide.video import services
from tests.video.conftest import ICE_INTERFACE, join_lesson
from tests.video.test_media import until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not ICE_INTERFACE, reason="needs scripts/janus/in-netns.sh"),
]
SAMPLE_SECONDS = 20
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


@pytest.mark.parametrize("clients", [2, 3, 4])
def test_janus_cpu_per_stream(
    clients,
    world,
    make_user,
    netns_janus,
    media_browser,
    live_server,
    sign_in,
):
    users = [world.teacher_7a] + [
        make_user(world.school, groups=(world.class_7a,)) for _ in range(clients - 1)
    ]
    lesson = services.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Bench",
        starts_at=None,
        minutes=45,
        classroom_mode=False,
    )
    pages = [
        join_lesson(media_browser, live_server.url, sign_in, user, lesson, timeout_ms=30_000)
        for user in users
    ]
    for page in pages:
        feeds = until(
            page, "window.KreideVideo ? window.KreideVideo.feeds() : 0", lambda n: n == clients - 1
        )
        assert feeds == clients - 1
        assert until(page, "window.KreideVideo.framesDecoded()", lambda n: n > 0, 90) > 0
    pid = netns_janus.process.pid
    before_cpu, before = cpu_seconds(pid), time.monotonic()
    pages[0].wait_for_timeout(SAMPLE_SECONDS * 1000)
    used = (cpu_seconds(pid) - before_cpu) / (time.monotonic() - before)
    frames = [page.evaluate("window.KreideVideo.framesDecoded()") for page in pages]
    streams = clients * (clients - 1) * 2  # each client receives audio + video of the others
    line = (
        f"clients={clients} forwarded_streams={streams} janus_cpu={used * 100:.1f}% "
        f"per_stream={used * 100 / streams:.2f}% of a core; frames_decoded={frames}"
    )
    print(line)
    with open(Path(__file__).with_name("results.txt"), "a") as results:
        results.write(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} {line}\n")
    assert used > 0
