"""Video lessons without a media server: permissions, queueing before the window opens,
join-window proposals, placement, the banner and the dashboard section."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kreide.video import services
from kreide.video.hooks import video_banner
from kreide.video.models import Admission, MediaServer, VideoLesson
from tests.visible import shows

pytestmark = pytest.mark.django_db


@pytest.fixture
def mid_morning(local_clock):
    """10:00 today: a lesson "in a minute" is one of today's whatever the hour the suite runs
    (from 23:59 on it would start tomorrow, and today's dashboard rightly leaves it out)."""
    return local_clock(time(10, 0))


def scheduled(world, minutes_ahead: int = 30, group=None, title: str = "Mathe") -> VideoLesson:
    return services.create_lesson(
        world.teacher_7a,
        group=group or world.class_7a,
        title=title,
        starts_at=timezone.now() + timedelta(minutes=minutes_ahead),
        minutes=45,
    )


def test_unconfigured_video_says_so_once_and_the_rest_works(world, client_for):
    lesson = scheduled(world, minutes_ahead=1)
    services.set_join_window(world.teacher_7a, lesson, timezone.now())
    client = client_for(world.student_7a)
    page = client.get("/video/")
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count("Videostunden sind hier nicht verfügbar") == 1
    assert body.count('class="notice"') + body.count('class="banner') == 1
    assert "Aufgaben, Dateien und Nachrichten funktionieren wie gewohnt" in body
    detail = client.get(f"/video/{lesson.pk}/")
    assert "Beitreten" not in detail.content.decode()
    home = client.get("/").content.decode()
    assert home.count("Videostunden sind hier nicht verfügbar") == 1  # the banner, nothing more
    assert "Beitreten" not in home
    teacher = client_for(world.teacher_7a).get("/video/").content.decode()
    assert "Neue Videostunde" not in teacher and "Beitrittszeiten" not in teacher


def test_media_servers_down_keep_the_lessons_without_join_buttons(world, client_for, mid_morning):
    lesson = scheduled(world, minutes_ahead=1)
    services.set_join_window(world.teacher_7a, lesson, timezone.now())
    media_servers_down()
    home = client_for(world.student_7a).get("/").content.decode()
    assert "Mathe" in home and "Video gerade nicht verfügbar" in home
    assert "Beitreten" not in home


def media_servers_down() -> None:
    """Video is set up, its servers do not answer: lessons can still be planned."""
    cache.set(services.HEALTH_KEY, {"state": "down", "checked": timezone.now()})


def test_teacher_schedules_a_lesson_and_students_cannot(world, client_for):
    media_servers_down()
    starts = (timezone.localtime() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "group": world.class_7a.pk,
        "title": "Deutsch",
        "starts_at": starts,
        "minutes": 45,
        "classroom_mode": "on",
    }
    response = client_for(world.teacher_7a).post("/video/", form)
    assert response.status_code == 302
    lesson = VideoLesson.objects.for_school(world.school).get()
    assert lesson.status == VideoLesson.Status.SCHEDULED and lesson.classroom_mode
    assert client_for(world.student_7a).post("/video/", form).status_code == 403
    # A teacher of another class cannot pick 7a.
    other = client_for(world.teacher_7b).post("/video/", form)
    assert other.status_code == 200
    assert "gültige Auswahl" in other.content.decode()


def test_a_time_in_the_past_is_refused_with_a_message(world, client_for):
    media_servers_down()
    past = (timezone.localtime() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(world.teacher_7a).post(
        "/video/", {"group": world.class_7a.pk, "title": "X", "starts_at": past, "minutes": 45}
    )
    assert "Dieser Zeitpunkt ist schon vorbei." in response.content.decode()
    assert not VideoLesson.objects.for_school(world.school).exists()


def test_only_members_may_join(world, client_for):
    lesson = scheduled(world)
    refused = client_for(world.student_7b).post(f"/video/{lesson.pk}/admit/")
    assert refused.status_code == 403
    assert client_for(world.other_student).post(f"/video/{lesson.pk}/admit/").status_code == 404
    assert client_for(world.student_7b).get(f"/video/{lesson.pk}/").status_code == 404
    assert not Admission.objects.for_school(world.school).filter(user=world.student_7b).exists()


@pytest.mark.parametrize("who", ["parent_7a", "parent_7b"])
def test_parents_neither_see_nor_join_a_class_lesson(world, parents, client_for, who):
    """A video lesson is for the class: a parent (of 7a's student, too) is not let in."""
    lesson = scheduled(world, minutes_ahead=1, title="Geheimes Mathe")
    services.set_join_window(world.teacher_7a, lesson, timezone.now())
    parent = getattr(world, who)
    assert not services.may_join(parent, lesson)
    assert not services.can_manage(parent, lesson)
    assert lesson not in services.lessons_for(parent)
    client = client_for(parent)
    listing = client.get("/video/")
    assert listing.status_code in (200, 403)
    assert "Geheimes Mathe" not in listing.content.decode()
    assert "Geheimes Mathe" not in client.get("/").content.decode()
    for page in ("", "waiting/", "room/", "state/"):
        # The room sends anyone without an admission to the lesson's page, which refuses.
        response = client.get(f"/video/{lesson.pk}/{page}", follow=True)
        assert response.status_code in (403, 404), (page, response.status_code)
    for action in ("join/", "admit/", "chat/", "control/end/"):
        response = client.post(f"/video/{lesson.pk}/{action}", {"text": "x"})
        assert response.status_code in (403, 404), (action, response.status_code)
    # Raising a hand and leaving act on one's own admission: without one, nothing happens.
    client.post(f"/video/{lesson.pk}/hand/", {"raised": "1"})
    client.post(f"/video/{lesson.pk}/leave/")
    form = {"group": world.class_7a.pk, "title": "X", "starts_at": "2030-01-01T08:00"}
    assert client.post("/video/", {**form, "minutes": 45}).status_code == 403
    assert not Admission.objects.for_school(world.school).filter(user=parent).exists()
    assert not lesson.chat.exists()
    lesson.refresh_from_db()
    assert lesson.status == VideoLesson.Status.SCHEDULED


def test_before_the_window_opens_students_wait_for_their_time(world, client_for):
    lesson = scheduled(world, minutes_ahead=10)
    response = client_for(world.student_7a).post(f"/video/{lesson.pk}/admit/")
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "waiting" and body["position"] is None
    assert 500 < int(response["Retry-After"]) <= 600
    waiting = client_for(world.student_7a).get(f"/video/{lesson.pk}/waiting/")
    assert "Deine Startzeit" in waiting.content.decode()


def test_join_windows_are_proposed_in_class_order_within_capacity(world, make_group, make_user):
    class_7c = make_group(world.school, "7c")
    for group in (world.class_7a, world.class_7b, class_7c):
        for _ in range(3):
            make_user(world.school, groups=(group,))
    start = timezone.now() + timedelta(hours=1)
    lessons = [
        services.create_lesson(
            world.admin, group=group, title=group.name, starts_at=start, minutes=45
        )
        for group in (class_7c, world.class_7b, world.class_7a)
    ]
    sizes = services.group_sizes(world.school.pk, [lesson.group_id for lesson in lessons])
    # 7a: 2 students + 3, 7b: 1 + 3, 7c: 3 -> 6, 5, 4 with the teacher; 10 per window.
    proposals = services.propose_windows(lessons, sizes, per_window=10, step_minutes=2)
    assert [(lesson.group.name, (opens - start).seconds // 60) for lesson, opens in proposals] == [
        ("7a", 0),
        ("7b", 2),
        ("7c", 2),
    ]


def test_stagger_page_applies_the_proposal(world, client_for):
    MediaServer.objects.create(
        name="a", url="http://127.0.0.1:1/janus", public_url="ws://x", capacity=2, healthy=True
    )
    start = timezone.now() + timedelta(hours=1)
    for group in (world.class_7a, world.class_7b):
        services.create_lesson(
            world.admin, group=group, title=group.name, starts_at=start, minutes=45
        )
    client = client_for(world.admin)
    page = client.get("/video/stagger/")
    assert "Kreide schlägt vor" in page.content.decode()
    assert client.post("/video/stagger/").status_code == 302
    opens = dict(
        VideoLesson.objects.for_school(world.school).values_list("group__name", "join_opens_at")
    )
    assert opens["7a"] == start and opens["7b"] == start + timedelta(minutes=2)
    assert client_for(world.student_7a).get("/video/stagger/").status_code == 404


def test_new_lessons_go_to_the_least_loaded_healthy_server(world):
    busy = MediaServer.objects.create(
        name="busy", url="http://127.0.0.1:1/janus", public_url="ws://a", capacity=10, healthy=True
    )
    idle = MediaServer.objects.create(
        name="idle", url="http://127.0.0.1:2/janus", public_url="ws://b", capacity=10, healthy=True
    )
    MediaServer.objects.create(
        name="dead",
        url="http://127.0.0.1:3/janus",
        public_url="ws://c",
        capacity=100,
        healthy=False,
    )
    lesson = scheduled(world)
    now = timezone.now()
    Admission.objects.for_school(world.school).create(
        school=world.school,
        lesson=lesson,
        user=world.student_7a,
        server=busy,
        state=Admission.State.ADMITTED,
        queued_at=now,
        last_seen=now,
    )
    assert services.pick_server() == idle
    assert services.pick_server(exclude=idle.pk) == busy


def test_banner_reads_the_cached_state_only(world, rf):
    request = rf.get("/tasks/")
    request.user = world.student_7a
    with CaptureQueriesContext(connection) as queries:
        assert video_banner(request) == []
        cache.set(services.HEALTH_KEY, {"state": "down", "checked": timezone.now()})
        banners = video_banner(request)
    assert len(queries) == 0
    assert "Videostunden sind gerade nicht verfügbar" in banners[0].text


def test_dashboard_shows_todays_lessons_with_a_fixed_number_of_queries(
    world, client_for, mid_morning
):
    now = timezone.now()
    lesson = services.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Bio",
        starts_at=now + timedelta(minutes=1),
        minutes=45,
    )
    client = client_for(world.student_7a)
    page = client.get("/").content.decode()
    assert "Videostunden heute" in page and shows(page, "Bio") and "ab " in page
    # The class's lessons are cached; the change shows at once.
    services.set_join_window(world.teacher_7a, lesson, now)
    assert "Beitreten" in client.get("/").content.decode()
    assert not shows(client_for(world.student_7b).get("/").content, "Bio")
    from django.test import RequestFactory

    from kreide.core import fragments
    from kreide.schools.access import memberships_of
    from kreide.video.hooks import dashboard_section

    request = RequestFactory().get("/")
    request.user = world.student_7a
    memberships_of(request)  # loaded once per request for every dashboard section
    with CaptureQueriesContext(connection) as queries:
        dashboard_section(request)
    assert len(queries) == 0  # every further student of the class: from the cache
    fragments.bump(services.group_lessons_scope(world.class_7a.pk))
    fragments.bump(services.teacher_lessons_scope(world.student_7a.pk))
    with CaptureQueriesContext(connection) as queries:
        dashboard_section(request)
    assert len(queries) == 2  # the groups' lessons, the user's own
    for index in range(5):
        services.create_lesson(
            world.teacher_7a,
            group=world.class_7a,
            title=f"L{index}",
            starts_at=now + timedelta(minutes=2),
            minutes=45,
        )
    with CaptureQueriesContext(connection) as more:
        found = dashboard_section(request)
    assert len(more) == 1 and len(found["lessons"]) == 6
    # What the class shares in the cache never carries a room's secret.
    assert all("room_secret" in e["lesson"].get_deferred_fields() for e in found["lessons"])
    services.end_lesson(world.teacher_7a, lesson)
    assert len(dashboard_section(request)["lessons"]) == 5


def test_a_renamed_group_shows_in_the_cached_lessons(
    world, client_for, django_capture_on_commit_callbacks, mid_morning
):
    from kreide.schools import services as school_services

    scheduled(world, minutes_ahead=1, title="Bio")
    client = client_for(world.student_7a)
    assert shows(client.get("/").content, "7a")
    with django_capture_on_commit_callbacks(execute=True):
        school_services.update_group(world.admin, world.class_7a, name="7x")
    assert "Bio · 7x" in " ".join(client.get("/").content.decode().split())


def test_a_lesson_just_after_midnight_shows_on_the_dashboard_when_its_day_begins(
    world, client_for, local_clock
):
    local_clock(time(23, 59, 30))
    scheduled(world, minutes_ahead=1, title="Bio")  # 00:00:30 tomorrow
    client = client_for(world.student_7a)
    assert not shows(client.get("/").content, "Bio")  # today's lessons only
    local_clock(time(0, 0, 10), days=1)
    # A new day: its own cache entries (by the local date), the lesson among them.
    assert shows(client.get("/").content, "Bio")


def test_a_lesson_running_past_midnight_stays_on_the_dashboard_until_it_ends(
    world, client_for, local_clock
):
    local_clock(time(23, 0))
    services.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Bio",
        starts_at=timezone.now() + timedelta(minutes=30),
        minutes=60,
    )  # 23:30 to 00:30
    client = client_for(world.student_7a)
    local_clock(time(23, 40))
    assert shows(client.get("/").content, "Bio")
    local_clock(time(0, 10), days=1)
    # Yesterday's lesson, still running: listed on the new day, its join button with it.
    page = client.get("/").content.decode()
    assert shows(page, "Bio") and "Beitreten" in page
    local_clock(time(0, 31), days=1)
    assert not shows(client.get("/").content, "Bio")  # ended


def test_the_longest_lesson_runs_into_the_next_day_and_no_lesson_is_longer(
    world, client_for, local_clock
):
    # The day's list looks back by the longest lesson only: a longer one is refused.
    local_clock(time(20, 0))
    with pytest.raises(ValueError):
        services.create_lesson(
            world.teacher_7a,
            group=world.class_7a,
            title="Zu lang",
            starts_at=timezone.now(),
            minutes=services.LONGEST_LESSON_MINUTES + 1,
        )
    services.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Nachtwanderung",
        starts_at=timezone.now() + timedelta(minutes=1),
        minutes=services.LONGEST_LESSON_MINUTES,
    )  # 20:01 to 00:01
    local_clock(time(0, 0, 30), days=1)
    assert shows(client_for(world.student_7a).get("/").content, "Nachtwanderung")


def test_browser_libraries_come_from_debian(client_for, world):
    client = client_for(world.student_7a)
    response = client.get("/video/lib/janus.js")
    assert response.status_code == 200
    assert b"Janus.init" in b"".join(response.streaming_content)
    assert "max-age" in response["Cache-Control"]
    assert client.get("/video/lib/other.js").status_code == 404


def test_a_deactivated_class_grants_nothing(world, deactivate, client_for):
    lesson = scheduled(world)
    deactivate(world.class_7a)
    lesson.refresh_from_db()
    colleague_of_7a = world.teacher_7b
    colleague_of_7a.memberships.create(school=world.school, group=world.class_7a, role="teacher")
    assert not services.may_join(world.classmate_7a, lesson)
    assert not services.can_manage(colleague_of_7a, lesson)
    assert services.can_manage(world.teacher_7a, lesson)  # their own lesson, to end it
    assert client_for(world.classmate_7a).post(f"/video/{lesson.pk}/admit/").status_code == 403
    assert lesson not in services.lessons_for(world.classmate_7a)
    with pytest.raises(PermissionDenied):
        scheduled(world)


def test_lesson_control_is_audited(world):
    from kreide.core.models import AuditEntry

    lesson = scheduled(world)
    services.mute_all(world.teacher_7a, lesson)
    with pytest.raises(PermissionDenied):
        services.end_lesson(world.student_7a, lesson)
    services.end_lesson(world.teacher_7a, lesson)
    audited = AuditEntry.objects.for_school(world.school).order_by("pk")
    assert [(e.action, e.actor_id, e.target_label) for e in audited] == [
        ("video.muted_all", world.teacher_7a.pk, "Mathe"),
        ("video.lesson_ended", world.teacher_7a.pk, "Mathe"),
    ]


def test_who_manages_and_who_joins(world):
    lesson = scheduled(world)
    assert services.can_manage(world.admin, lesson)
    assert not services.can_manage(world.teacher_7b, lesson)
    assert not services.can_manage(world.other_admin, lesson)
    assert services.may_join(world.classmate_7a, lesson)
    assert not services.may_join(world.other_student, lesson)


def test_demo_seeds_a_staggered_morning_wave(world, make_group, make_user):
    import random

    from kreide.video import demo

    class_7c = make_group(world.school, "7c")
    make_user(world.school, "teacher", groups=(class_7c,))
    demo.seed(world.school, random.Random(1))
    seeded = VideoLesson.objects.for_school(world.school).select_related("group")
    around_now = ["Videosprechstunde", "Wiederholung vor der Arbeit"]
    lessons = {lesson.group.name: lesson for lesson in seeded.exclude(title__in=around_now)}
    assert set(lessons) == {"7a", "7b", "7c"}
    # The sample logins (first teacher and student) find a lesson open right now.
    now_open = seeded.get(title="Videosprechstunde")
    assert now_open.teacher == world.teacher_7a and now_open.group == world.class_7a
    assert services.may_join(world.student_7a, now_open)
    assert (lessons["7c"].join_opens_at - lessons["7a"].join_opens_at).seconds == 240
    assert lessons["7a"].teacher == world.teacher_7a


def test_kreide_proposes_windows_when_the_next_wave_is_too_big(world, client_for):
    MediaServer.objects.create(
        name="small",
        url="http://127.0.0.1:1/janus",
        public_url="ws://x",
        capacity=4,
        healthy=True,
    )
    start = timezone.now() + timedelta(hours=1)
    for group in (world.class_7a, world.class_7b):
        services.create_lesson(
            world.admin, group=group, title=group.name, starts_at=start, minutes=45
        )
    page = client_for(world.teacher_7a).get("/video/").content.decode()
    assert "mehr, als die Medienserver in einem Beitrittsfenster aufnehmen" in page
    link = page.split('href="/video/stagger/?at=')[1].split('"')[0]
    proposal = client_for(world.teacher_7a).get(f"/video/stagger/?at={link}").content.decode()
    assert "Kreide schlägt vor" in proposal and shows(proposal, "7a")
    # Once staggered, no more proposal.
    lesson_7b = VideoLesson.objects.for_school(world.school).get(group=world.class_7b)
    services.set_join_window(world.admin, lesson_7b, start + timedelta(minutes=2))
    page = client_for(world.teacher_7a).get("/video/").content.decode()
    assert "Beitrittsfenster aufnehmen" not in page


def test_admins_see_no_join_buttons_for_lessons_they_do_not_attend(world, client_for):
    scheduled(world, minutes_ahead=1, title="Erdkunde")
    assert "Erdkunde" not in client_for(world.admin).get("/").content.decode()
    assert "Erdkunde" in client_for(world.admin).get("/video/").content.decode()


def test_media_servers_come_from_the_configuration(db, settings):
    settings.JANUS_URLS = [
        "http://10.0.0.5:8088/janus|wss://video.example/ws|300|key1",
        "http://10.0.0.6:8088/janus|wss://video2.example/ws|200",
        "http://10.0.0.7/janus|ws://x|many",
    ]
    services.sync_configured_servers()
    servers = dict(MediaServer.objects.values_list("url", "capacity"))
    assert servers == {"http://10.0.0.5:8088/janus": 300, "http://10.0.0.6:8088/janus": 200}
    assert MediaServer.objects.get(capacity=300).admin_key == "key1"


def test_students_join_no_earlier_than_their_class_starts(world):
    """Staggered start (kreide.schedule) holds for video too: 7a starts at 8:05, so its
    students wait until 8:05 for an 8:00 lesson; 7b has no window; the teacher never waits."""
    from datetime import datetime, time

    from kreide.schedule.services import add_window

    tomorrow = timezone.localdate() + timedelta(days=1)
    eight = timezone.make_aware(datetime.combine(tomorrow, time(8, 0)))
    lesson = services.create_lesson(
        world.teacher_7a, group=world.class_7a, title="Mathe", starts_at=eight, minutes=45
    )
    add_window(world.admin, tomorrow, time(8, 5), group=world.class_7a)

    decision = services.admit(world.student_7a, lesson)
    assert decision.state == "waiting"
    assert decision.join_at == eight + timedelta(minutes=5)

    lesson_7b = services.create_lesson(
        world.teacher_7b, group=world.class_7b, title="Deutsch", starts_at=eight, minutes=45
    )
    assert services.admit(world.student_7b, lesson_7b).join_at == eight

    assert services.join_opens_for(lesson, None) == eight
    assert services.join_opens_for(lesson, time(7, 50)) == eight  # the lesson's window wins
