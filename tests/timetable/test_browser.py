import pytest
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.timetable.conftest import school_days

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_student_sees_todays_changes_on_a_phone(tt, browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, locale="de-DE", viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.get_by_label("Benutzername oder E-Mail").fill(tt.student_7a.username)
        page.get_by_label("Passwort", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Anmelden").click()
        section = page.locator("section", has=page.get_by_role("heading", name="Vertretungsplan"))
        section.get_by_text("Aufgaben im Kreide-Ordner").wait_for()
        assert section.get_by_text("Entfall").first.is_visible()
        section.get_by_role("link", name="Mein Stundenplan").click()
        first_day = page.locator(".tt-day").first
        first_day.get_by_text("Übungen zur Grammatik").wait_for()
        # Nothing wider than the phone: no sideways scrolling for the day.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_teacher_starts_a_video_lesson_from_a_slot(tt, page, sign_in):
    from kreide.video.models import MediaServer, VideoLesson

    # A media server Kreide knows (here unreachable): the lesson is planned either way.
    MediaServer.objects.create(name="j", url="http://127.0.0.1:9/janus", public_url="", capacity=50)
    _day, following = school_days(tt.school)
    sign_in(page, tt.mueller.username)
    page.goto(f"/timetable/?day={following:%Y-%m-%d}")
    maths_7a = page.locator(".tt-slot", has_text="7:55").locator(".tt-entry", has_text="7a")
    maths_7a.get_by_role("link", name="Videostunde").click()
    assert page.get_by_label("Titel").input_value() == "Ma 7a"
    page.get_by_role("button", name="Stunde anlegen").click()
    page.get_by_text("Die Videostunde ist geplant.").wait_for()
    lesson = VideoLesson.objects.for_school(tt.school).get()
    assert (lesson.group, lesson.teacher, lesson.title) == (tt.class_7a, tt.mueller, "Ma 7a")
    assert timezone.localtime(lesson.starts_at).strftime("%Y-%m-%d %H:%M") == (
        f"{following:%Y-%m-%d} 07:55"
    )
