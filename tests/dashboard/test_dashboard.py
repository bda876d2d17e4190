from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kreide.news.models import News
from tests.visible import shows


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200
    return len(queries)


def test_dashboard_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_dashboard_shows_groups_and_only_own_school_news(client_for, world):
    from django.utils import timezone

    News.unscoped.create(school=world.school, title="Nord-News", published_at=timezone.now())
    News.unscoped.create(school=world.other_school, title="Süd-News", published_at=timezone.now())
    page = client_for(world.student_7a).get("/").content.decode()
    assert "Nord-News" in page and "Süd-News" not in page
    assert shows(page, "7a")


def test_dashboard_queries_bounded_by_number_of_groups(client_for, world, make_group):
    client = client_for(world.teacher_7a)
    for _ in range(2):  # warm the session cache and the process's copy of the user
        client.get("/")
    baseline = _dashboard_queries(client)

    def join_new_groups(count: int, offset: int) -> int:
        for index in range(offset, offset + count):
            group = make_group(world.school, f"Kurs {index}")
            group.memberships.create(school=world.school, user=world.teacher_7a, role="teacher")
        return _dashboard_queries(client)

    # New groups renew the cached parts that depend on them (timetable, calendar, video
    # lessons, shares): loaded together, so fifteen groups cost what one costs, then cached.
    after_one = join_new_groups(1, offset=0)
    assert join_new_groups(15, offset=1) <= after_one
    assert _dashboard_queries(client) == baseline


def test_a_later_visit_writes_nothing_while_the_unread_count_is_as_cached(
    client_for, world, monkeypatch
):
    from kreide.core import fragments
    from kreide.messenger import services as messenger

    client = client_for(world.student_7a)
    client.get("/")  # the student's fragments and the navigation's count cached
    writes = []
    monkeypatch.setattr(fragments, "_write", writes.append)
    client.get("/")
    assert writes == []
    cache.set(messenger.unread_key(world.student_7a.pk), 5)  # not what the rooms say
    client.get("/")
    assert writes == [{messenger.UNREAD_SECONDS: {messenger.unread_key(world.student_7a.pk): 0}}]


def _own_fragments_probe(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT EXISTS (")]


def test_a_students_own_fragments_are_asked_for_in_one_statement(client_for, world, make_user):
    """A student's first visit misses the lessons they teach, the tasks given to them by
    name and the shares with them, which are mostly none: one statement asks which have
    rows, the empty ones are cached as empty, and the next visit reads them."""
    client_for(world.student_7a).get("/")  # the class's fragments cached
    client = client_for(make_user(world.school, groups=(world.class_7a,)))
    with CaptureQueriesContext(connection) as first:
        assert client.get("/").status_code == 200
    probes = _own_fragments_probe(first)
    assert len(probes) == 1 and probes[0].count("EXISTS (") == 3, probes
    own = ("tasks_task_students", "files_share", '"teacher_id"')
    assert not [
        q for q in first if any(part in q["sql"] for part in own) and q["sql"] not in probes
    ]
    with CaptureQueriesContext(connection) as later:
        client.get("/")

    def tables(queries) -> list[str]:  # the user's own aside: kept from the second visit on
        found = [q["sql"].split(" FROM ", 1)[1].split()[0] for q in queries]
        return [table for table in found if table != '"accounts_user"']

    assert tables(later) == tables(q for q in first if q["sql"] not in probes)


def test_a_student_with_own_fragments_sees_them_on_the_first_visit(
    client_for, world, make_user, local_clock
):
    """The probe only spares queries: a student who teaches a lesson (in a class not
    theirs), has a task by name and a file shared with them sees all three at once."""
    from datetime import time, timedelta

    from django.utils import timezone

    from kreide.files import services as files
    from kreide.files.services import Actor
    from kreide.storage.blobstore import store_bytes
    from kreide.tasks import services as tasks
    from kreide.tasks.models import Task
    from kreide.video.models import VideoLesson

    local_clock(time(10, 0))
    student = make_user(world.school, groups=(world.class_7a,))
    now = timezone.now()
    VideoLesson.unscoped.create(
        school=world.school,
        group=world.class_7b,
        teacher=student,
        title="Referat Vulkane",
        starts_at=now + timedelta(minutes=30),
        ends_at=now + timedelta(minutes=75),
        join_opens_at=now + timedelta(minutes=30),
    )
    task = Task(
        title="Nachschreiben", description="", starts_at=now, due_at=now + timedelta(days=1)
    )
    tasks.save_task(world.teacher_7a, task, [world.class_7a], [student])
    owner = Actor(world.student_7a)
    node = files.add_file(
        owner, files.root_of(files.personal_space(world.student_7a)), "Brief.txt", store_bytes(b"x")
    )
    files.share(owner, node, user=student)
    client_for(world.student_7a).get("/")  # the class's fragments cached
    page = client_for(student).get("/").content.decode()
    assert all(shows(page, text) for text in ("Referat Vulkane", "Nachschreiben", "Brief.txt"))
