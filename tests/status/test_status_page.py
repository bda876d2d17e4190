import time

import pytest
from django.core.management import call_command

from kreide.core import cache, load
from kreide.core import health as core_health
from kreide.status import health, services
from kreide.status.models import Incident


def test_incident_cli_shows_banner_everywhere_until_closed(
    client_for, world, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("incident", "open", "Videokonferenzen sind gestört.", "--level", "error")
    page = client_for(world.student_7a).get("/").content.decode()
    assert 'class="banner banner-error"' in page and "Videokonferenzen sind gestört." in page
    assert "Videokonferenzen sind gestört." in client.get("/accounts/login/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("incident", "close")
    assert Incident.objects.get().ended_at is not None
    assert "Videokonferenzen" not in client_for(world.student_7a).get("/").content.decode()
    listed = client.get("/status").content.decode()
    assert "Kürzlich behoben" in listed and "Videokonferenzen sind gestört." in listed


def test_incident_cli_rejects_empty_text_and_unknown_id(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("incident", "open", "  ")
    with pytest.raises(CommandError):
        call_command("incident", "close", "999")


def test_status_page_renders_without_database(client, db, django_assert_num_queries, settings):
    services.open_incident("Anmeldung langsam")
    services.publish_incidents()  # what the commit would trigger
    health.sample()
    load.flush({"completed": 120, "shed": 30, "ms": 2400}, in_flight=3)
    with django_assert_num_queries(0):
        response = client.get("/status")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Systemstatus" in page and "Anmeldung langsam" in page
    # Without a media server and a mail server, video and mail are not part of this Kreide;
    # nor is Redis in the embedded default. Notifications' delivery queue is.
    shown = 6 if settings.REDIS_URL else 5
    assert page.count('class="status-ok"') == shown and page.count('<li class="status-') == shown
    assert "E-Mail" not in page and "Video" not in page
    assert "<polyline" in page and "<script" not in page


def test_configured_mail_is_checked_and_shown(client, db, settings, monkeypatch):
    settings.EMAIL_HOST = "127.0.0.1"
    from kreide.mail import health as mail_health

    monkeypatch.setattr(mail_health.socket, "create_connection", _refused)
    health.sample()
    page = client.get("/status").content.decode()
    assert '<li class="status-down"><span class="status-name">E-Mail</span>' in page


def _refused(*args, **kwargs):
    raise ConnectionRefusedError


def test_status_page_has_an_icon_and_english(client, db):
    page = client.get("/status").content.decode()
    assert 'rel="icon"' in page and 'href="?language=en"' in page
    english = client.get("/status?language=en")
    assert english["Content-Language"] == "en"
    assert (
        "System status" in english.content.decode()
        and 'href="?language=de"' in english.content.decode()
    )
    assert client.get("/status?language=xx").status_code == 200
    icon = client.get("/favicon.ico")
    assert icon.status_code == 301 and icon["Location"].endswith(".svg")


def test_status_page_says_unknown_without_a_sample(client, db):
    page = client.get("/status").content.decode()
    assert page.count('class="status-unknown"') == len(core_health.registered())
    assert "Noch nicht geprüft." in page


def test_unreachable_redis_shows_the_cache_degraded(client, db, settings, monkeypatch):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    monkeypatch.setattr(cache, "shared_cache_problem", lambda: "ConnectionError")
    health.sample()
    page = client.get("/status").content.decode()
    assert (
        '<li class="status-degraded"><span class="status-name">Zwischenspeicher (Redis)</span>'
        in page
    )
    # Sign-in works without Redis (sessions and throttles fall back), so it is not disrupted.
    assert '<li class="status-ok"><span class="status-name">Anmeldung</span>' in page


def test_failing_check_shows_the_module_disrupted(client, db, monkeypatch):
    def broken() -> None:
        raise ConnectionRefusedError

    monkeypatch.setitem(
        core_health._checks, "mail", core_health.Check("mail", "Mail", broken, order=60)
    )
    result = health.sample()
    assert result["modules"]["mail"] == {
        "ok": False,
        "problem": "ConnectionRefusedError",
        "ms": result["modules"]["mail"]["ms"],
    }
    assert 'class="status-down"' in client.get("/status").content.decode()


def test_banner_falls_back_to_the_snapshot_file(client, db):
    # The embedded setup's cache lives in each process: the CLI's write reaches the others
    # through the snapshot file.
    from django.core.cache import cache

    services.open_incident("Wartung heute Abend", level="info")
    services.publish_incidents()
    cache.clear()
    assert "Wartung heute Abend" in client.get("/accounts/login/").content.decode()


def test_video_check_asks_the_registered_media_servers(db, monkeypatch, settings):
    import socket

    from kreide.video import health as video_health
    from kreide.video import services as video
    from kreide.video.models import MediaServer

    settings.JANUS_URLS = []
    assert video_health.check() == "not configured"
    assert video.cached_state() == "unconfigured"
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    MediaServer.objects.create(
        name="janus-1", url=f"http://127.0.0.1:{port}/janus", public_url="ws://x", healthy=True
    )
    assert video_health.check() == "media servers down"
    assert video.cached_state() == "down"


def test_refusals_nginx_logged_count_as_shed_once(db, tmp_path):
    """nginx writes a `$msec` line per refusal; the sampler adds them to the minute they
    happened, reads each line once, starts at the end of an old log and follows rotation."""
    log = tmp_path / "front-refusals.log"
    log.write_text("1000.000\n")  # from before the sampler started: not counted
    refusals = load.FrontRefusals(log, keep_bytes=40)
    minute = int(time.time() // 60)
    now = f"{minute * 60 + 1}.250\n"
    with log.open("a") as appending:
        appending.write(now * 2 + f"{minute * 60 + 61}.5\n" + "17")  # the last line unfinished
    assert refusals.collect() == 3
    assert refusals.collect() == 0  # nothing new, nothing counted twice
    counted = load.minutes(minute, minute + 2)
    assert [bucket["shed"] for bucket in counted] == [2, 1]
    with log.open("a") as appending:
        appending.write("00.5\n")  # the unfinished line completed
    assert refusals.collect() == 1
    assert log.stat().st_size == 0  # past keep_bytes and fully read: emptied
    log.write_text(now)  # rotated or emptied: read from the start
    assert refusals.collect() == 1
    assert refusals.collect() == 0
    missing = load.FrontRefusals(tmp_path / "absent.log")
    assert missing.collect() == 0


def test_each_module_registers_its_own_check_and_status_imports_none():
    from pathlib import Path

    assert [check.key for check in core_health.registered()] == [
        "login",
        "tasks",
        "files",
        "messenger",
        "video",
        "mail",
        "cache",
        "notifications",
    ]
    status = Path(core_health.__file__).parents[1] / "status"
    for path in status.rglob("*.py"):
        text = path.read_text()
        for module in ("video", "tasks", "files", "messenger", "mail", "notifications"):
            assert f"from kreide.{module}" not in text and f"import kreide.{module}" not in text, (
                path,
                module,
            )


def _cache_check(answers: list):
    """The cache's check, answering from `answers` (Redis down, then back) and counting."""
    asked = []

    def run():
        asked.append(1)
        return answers.pop(0) if answers else None

    return core_health.Check("cache", "Cache", run, order=70, degrades=True), asked


class _Clock:
    """Time that passes only when the sampler sleeps: no test waits for real."""

    def __init__(self) -> None:
        self.now, self.slept = 1000.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_the_sampler_samples_again_as_soon_as_redis_answers(client, db, monkeypatch):
    check, asked = _cache_check(["ConnectionError", "ConnectionError", "ConnectionError"])
    monkeypatch.setitem(core_health._checks, "cache", check)
    down = health.sample()
    assert down["modules"]["cache"]["ok"] is False
    page = client.get("/status").content.decode()
    assert '<li class="status-degraded"><span class="status-name">Cache' in page

    clock = _Clock()
    health.wait_for_next_round(down, sleep=clock.sleep, clock=clock)
    # Asked every RECHECK_SECONDS: still down twice, back the third time.
    assert clock.slept == [health.RECHECK_SECONDS] * 3 and len(asked) == 4
    assert sum(clock.slept) < health.SAMPLE_SECONDS
    health.sample()
    page = client.get("/status").content.decode()
    assert '<li class="status-ok"><span class="status-name">Cache' in page


def test_the_sampler_waits_the_full_round_when_all_is_well_or_nothing_comes_back(db, monkeypatch):
    check, asked = _cache_check([])
    monkeypatch.setitem(core_health._checks, "cache", check)
    clock = _Clock()
    health.wait_for_next_round(health.sample(), sleep=clock.sleep, clock=clock)
    assert clock.slept == [health.SAMPLE_SECONDS] and len(asked) == 1  # no extra checks
    check, asked = _cache_check(["ConnectionError"] * 100)
    monkeypatch.setitem(core_health._checks, "cache", check)
    clock = _Clock()
    health.wait_for_next_round(health.sample(), sleep=clock.sleep, clock=clock)
    assert sum(clock.slept) == health.SAMPLE_SECONDS


def test_a_cache_back_from_an_outage_does_not_show_its_old_sample(client, db, monkeypatch):
    """While Redis was away the sampler went on in the file only; Redis comes back with
    the sample from before the outage. The newer one is shown."""
    from django.core.cache import cache as django_cache

    before = {"at": time.time() - 120, "modules": {"cache": {"ok": True, "problem": ""}}}
    during = {"at": time.time() - 5, "modules": {"cache": {"ok": False, "problem": "down"}}}
    services.publish_incidents()
    django_cache.set(services.HEALTH_KEY, before, None)
    services.write_snapshot(health=during)
    assert services.read_snapshot()["health"] == during
    after = {"at": time.time(), "modules": {"cache": {"ok": True, "problem": ""}}}
    django_cache.set(services.HEALTH_KEY, after, None)
    assert services.read_snapshot()["health"] == after
