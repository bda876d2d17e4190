"""English dates come in one form everywhere; German keeps its own."""

from datetime import datetime, timedelta

from django.conf import settings
from django.template import Context, Template
from django.utils import timezone, translation

from kreide.video import services as video


def _render(language: str, text: str, value) -> str:
    with translation.override(language):
        return Template(text).render(Context({"value": value}))


def test_named_formats_in_english_and_german():
    value = datetime(2026, 12, 6, 14, 30)
    assert _render("en", '{{ value|date:"SHORT_DATETIME_FORMAT" }}', value) == "6 Dec 2026, 14:30"
    assert _render("en", '{{ value|date:"DATETIME_FORMAT" }}', value) == "6 December 2026, 14:30"
    assert _render("en", '{{ value|date:"SHORT_DATE_FORMAT" }}', value) == "6 Dec 2026"
    assert _render("de", '{{ value|date:"SHORT_DATETIME_FORMAT" }}', value) == "06.12.2026 14:30"


def test_video_lessons_show_english_dates_in_english(world, client_for):
    starts = timezone.localtime() + timedelta(days=2)
    video.create_lesson(
        world.teacher_7a, group=world.class_7a, title="Bio", starts_at=starts, minutes=45
    )
    client = client_for(world.student_7a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/video/").content.decode()
    assert f"{starts.day} {starts.strftime('%b')} {starts.year}, {starts:%H:%M}" in page
    assert f"{starts:%d.%m.}" not in page


def test_kept_dates_read_as_django_formats_them_in_each_zone_and_language(monkeypatch):
    from zoneinfo import ZoneInfo

    from django.utils import formats

    instant = datetime(2026, 12, 6, 13, 30, tzinfo=ZoneInfo("UTC"))
    kept = '{% load kreide_dates %}{{ value|kept_date:"SHORT_DATETIME_FORMAT" }}'
    plain = '{{ value|date:"SHORT_DATETIME_FORMAT" }}'
    for zone in ("Europe/Berlin", "Europe/Lisbon"):
        with timezone.override(ZoneInfo(zone)):
            for language in ("de", "en"):
                assert _render(language, kept, instant) == _render(language, plain, instant)
    with timezone.override(ZoneInfo("Europe/Lisbon")):
        assert _render("de", kept, instant) == "06.12.2026 13:30"
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert _render("de", kept, instant) == "06.12.2026 14:30"
        asked = []
        monkeypatch.setattr(formats, "date_format", lambda *args: asked.append(args) or "")
        assert _render("de", kept, instant) == "06.12.2026 14:30"  # kept: not formatted again
        assert not asked
