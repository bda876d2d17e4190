"""The class's tasks come from the fragment cache: a change is visible at once, to exactly
the students it is for, and the pages every student opens cost a fixed number of queries."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.sessions.backends.cached_db import KEY_PREFIX as SESSION
from django.urls import reverse
from django.utils import timezone

from kreide.messenger.services import unread_key
from kreide.storage.blobstore import store_bytes
from kreide.tasks import services
from kreide.tasks.models import Attachment, Task
from tests.conftest import redis_reads_entries_at_once, user_query

pytestmark = pytest.mark.django_db


def _list(client) -> str:
    response = client.get(reverse("tasks:list"))
    assert response.status_code == 200
    return response.content.decode()


def _dashboard(client) -> str:
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 200
    return response.content.decode()


def _detail(client, task) -> int:
    return client.get(reverse("tasks:detail", args=[task.pk])).status_code


def test_a_new_task_shows_up_at_once(
    world, make_task, client_for, django_capture_on_commit_callbacks
):
    client = client_for(world.student_7a)
    make_task(title="Erste Aufgabe")
    assert "Erste Aufgabe" in _list(client) and "Erste Aufgabe" in _dashboard(client)
    with django_capture_on_commit_callbacks(execute=True):
        task = make_task(title="Zweite Aufgabe", due_at=timezone.now() + timedelta(days=1))
    assert "Zweite Aufgabe" in _list(client)
    assert "Zweite Aufgabe" in _dashboard(client)
    assert _detail(client, task) == 200


def test_a_changed_task_shows_up_at_once(world, make_task, client_for):
    task = make_task(title="Alter Titel")
    client = client_for(world.student_7a)
    assert _detail(client, task) == 200 and "Alter Titel" in _list(client)
    task.title = "Neuer Titel"
    task.due_at = timezone.now() + timedelta(days=30)
    services.save_task(world.teacher_7a, task, [world.class_7a], [])
    page = _list(client)
    assert "Neuer Titel" in page and "Alter Titel" not in page
    assert "Neuer Titel" in client.get(reverse("tasks:detail", args=[task.pk])).content.decode()


def test_a_task_moved_to_another_class_leaves_the_first(world, make_task, make_user, client_for):
    teacher = make_user(world.school, "teacher", groups=(world.class_7a, world.class_7b))
    task = make_task(teacher=teacher, title="Wandernde Aufgabe")
    first, second = client_for(world.student_7a), client_for(world.student_7b)
    assert "Wandernde Aufgabe" in _list(first) and _detail(first, task) == 200
    assert "Wandernde Aufgabe" not in _list(second) and _detail(second, task) == 404
    services.save_task(
        teacher, Task.objects.for_school(world.school).get(pk=task.pk), [world.class_7b], []
    )
    assert "Wandernde Aufgabe" not in _list(first) and _detail(first, task) == 404
    assert "Wandernde Aufgabe" in _list(second) and _detail(second, task) == 200


def test_tasks_for_some_students_follow_the_selection(world, make_task, client_for):
    task = make_task(title="Nur für eine", students=[world.student_7a])
    chosen, classmate = client_for(world.student_7a), client_for(world.classmate_7a)
    assert "Nur für eine" in _list(chosen) and _detail(chosen, task) == 200
    assert "Nur für eine" not in _list(classmate) and _detail(classmate, task) == 404
    task.refresh_from_db()
    services.save_task(world.teacher_7a, task, [world.class_7a], [world.classmate_7a])
    assert "Nur für eine" not in _list(chosen) and _detail(chosen, task) == 404
    assert "Nur für eine" in _list(classmate) and _detail(classmate, task) == 200
    # Back to the whole class: both see it.
    services.save_task(world.teacher_7a, task, [world.class_7a], [])
    assert "Nur für eine" in _list(chosen) and "Nur für eine" in _list(classmate)


def test_a_deleted_task_is_gone_at_once(world, make_task, client_for):
    task = make_task(title="Bald gelöscht")
    client = client_for(world.student_7a)
    assert "Bald gelöscht" in _list(client)
    pk = task.pk
    services.delete_task(world.teacher_7a, task)
    assert "Bald gelöscht" not in _list(client) and "Bald gelöscht" not in _dashboard(client)
    assert client.get(reverse("tasks:detail", args=[pk])).status_code == 404


def test_a_task_appears_when_its_start_comes(world, make_task, client_for):
    start = timezone.now() + timedelta(minutes=5)
    task = make_task(title="Ab acht Uhr", starts_at=start, due_at=start + timedelta(days=1))
    client = client_for(world.student_7a)
    assert "Ab acht Uhr" not in _list(client) and _detail(client, task) == 404
    later = start + timedelta(seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert "Ab acht Uhr" in _list(client) and _detail(client, task) == 200


def test_membership_changes_need_no_bump(world, make_task, client_for):
    task = make_task(title="Klassenaufgabe 7a")
    client = client_for(world.student_7b)
    assert "Klassenaufgabe 7a" not in _list(client)
    membership = world.class_7a.memberships.create(
        school=world.school, user=world.student_7b, role="member"
    )
    assert "Klassenaufgabe 7a" in _list(client) and _detail(client, task) == 200
    membership.delete()
    assert "Klassenaufgabe 7a" not in _list(client) and _detail(client, task) == 404


def test_another_schools_student_never_sees_the_cached_tasks(
    world, make_task, make_user, client_for
):
    task = make_task(title="Nord-Aufgabe")
    assert "Nord-Aufgabe" in _list(client_for(world.student_7a))
    stranger = client_for(make_user(world.other_school))
    assert "Nord-Aufgabe" not in _list(stranger) and _detail(stranger, task) == 404


def test_worksheets_added_and_removed_show_at_once(world, task, client_for):
    client = client_for(world.student_7a)
    url = reverse("tasks:detail", args=[task.pk])
    assert "Keine Arbeitsblätter" in client.get(url).content.decode()
    services.add_attachment(world.teacher_7a, task, store_bytes(b"blatt"), "Blatt 1.pdf")
    assert "Blatt 1.pdf" in client.get(url).content.decode()
    attachment = Attachment.objects.for_school(world.school).get(task=task)
    services.remove_attachment(world.teacher_7a, attachment)
    assert "Blatt 1.pdf" not in client.get(url).content.decode()


def test_writes_without_the_service_renew_the_lists_too(world, make_task, make_user, client_for):
    """Which rows feed the lists is declared (apps.py): the operator's admin, a script or a
    queryset update renew exactly the lists they change."""
    task = make_task(title="Ohne Dienst")
    first, second = client_for(world.student_7a), client_for(world.student_7b)
    assert "Ohne Dienst" in _list(first) and "Ohne Dienst" not in _list(second)

    Task.objects.for_school(world.school).filter(pk=task.pk).update(title="Per Update")
    assert "Per Update" in _list(first)

    classmate = client_for(make_user(world.school, groups=(world.class_7b,)))
    world.class_7b.tasks.add(task)  # the reverse side of the many-to-many table
    assert "Per Update" in _list(second) and "Per Update" in _list(classmate)
    task.groups.remove(world.class_7a)
    assert "Per Update" not in _list(first) and "Per Update" in _list(second)

    task.students.add(world.student_7b)  # now only for that student: the class list drops it
    assert "Per Update" in _list(second) and "Per Update" not in _list(classmate)

    url = reverse("tasks:detail", args=[task.pk])
    Attachment.objects.for_school(world.school).create(
        task=task, blob=store_bytes(b"blatt"), filename="Direkt.pdf"
    )
    assert "Direkt.pdf" in second.get(url).content.decode()

    Task.objects.for_school(world.school).filter(pk=task.pk).delete()
    assert "Per Update" not in _list(second)


def test_a_submission_is_seen_at_once_on_list_and_dashboard(world, make_task, client_for):
    task = make_task(title="Vokabeln Unit 4", expects="text")
    client = client_for(world.student_7a)
    assert "Vokabeln Unit 4" in _dashboard(client) and "offen" in _list(client)
    services.save_text(world.student_7a, task, "Meine Lösung")
    assert "noch nicht abgegeben" in _list(client)
    services.hand_in(world.student_7a, task)
    assert "abgegeben" in _list(client) and "noch nicht abgegeben" not in _list(client)
    assert "Vokabeln Unit 4" not in _dashboard(client)


def test_student_pages_cost_a_fixed_number_of_queries(
    world, make_task, client_for, django_assert_num_queries
):
    tasks = [make_task(title=f"Aufgabe {n}") for n in range(3)]
    client = client_for(world.student_7a)
    for url in (reverse("tasks:list"), reverse("tasks:detail", args=[tasks[0].pk]), "/"):
        client.get(url)  # fills the caches as the first student of the class does
    # user (kept in the process where Redis is shared: none); memberships; the student's
    # submissions
    with django_assert_num_queries(2 + user_query()):
        _list(client)
    # user; memberships; the student's submission (no files: no second query)
    with django_assert_num_queries(2 + user_query()):
        assert _detail(client, tasks[0]) == 200
    # user; memberships; submissions and feedback; rooms (video, share ids: cached)
    with django_assert_num_queries(3 + user_query()):
        _dashboard(client)
    for n in range(3, 20):
        make_task(title=f"Aufgabe {n}")
    client.get(reverse("tasks:list"))
    with django_assert_num_queries(2 + user_query()):
        assert "Aufgabe 19" in _list(client)
    with django_assert_num_queries(3 + user_query()):
        _dashboard(client)


def test_a_submission_and_its_files_are_one_statement(
    world, task, client_for, django_assert_num_queries
):
    client, url = client_for(world.student_7a), reverse("tasks:detail", args=[task.pk])
    assert client.get(url).status_code == 200  # fills the caches
    # user (kept where Redis is shared); memberships; the submission, read as none
    with django_assert_num_queries(2 + user_query()):
        assert "noch nichts abgegeben" in client.get(url).content.decode()
    now = timezone.now()
    for name, content in (("Zweite.pdf", b"b"), ("Erste.pdf", b"a")):
        services.add_file(world.student_7a, task, store_bytes(content), name, now)
    first = services.my_submission(world.student_7a, task).files.get(filename="Erste.pdf")
    first.created_at = now - timedelta(minutes=1)
    first.save()
    # user; memberships; the submission with its two files and their blobs
    with django_assert_num_queries(2 + user_query()):
        page = client.get(url).content.decode()
    assert page.index("Erste.pdf") < page.index("Zweite.pdf")  # in the order received
    assert "1\xa0Byte" in page
    # The draft's files as the ORM reads them, each with its blob.
    read = services.my_submission_with_files(world.student_7a, task)
    expected = services.my_submission(world.student_7a, task)
    assert [(_fields(f), _fields(f.blob)) for f in read.files.all()] == [
        (_fields(f), _fields(f.blob)) for f in expected.files.select_related("blob")
    ]
    assert _fields(read) == _fields(expected)
    # Without files: the submission alone.
    for submitted in list(read.files.all()):
        services.remove_file(world.student_7a, submitted)
    assert list(services.my_submission_with_files(world.student_7a, task).files.all()) == []


def _fields(instance) -> dict:
    """A model instance's column values as read."""
    return {key: value for key, value in vars(instance).items() if not key.startswith("_")}


def _fragment_trips(cache_reads) -> list[list[str]]:
    """The round trips that read fragments' versions or entries (not the session's, which
    reads the versions of its user's rows along: accounts.keptuser)."""
    return [
        keys
        for _kind, keys in cache_reads
        if any(k.startswith("frag") for k in keys) and not any(k.startswith(SESSION) for k in keys)
    ]


def test_a_task_page_reads_its_cached_parts_with_the_pages_keys(
    world, task, client_for, cache_reads
):
    from kreide.status.services import INCIDENTS_KEY

    client = client_for(world.student_7a)
    assert _detail(client, task) == 200  # fills the caches
    cache_reads.clear()
    assert _detail(client, task) == 200
    # The class's task lists' and the worksheets' versions come with the page's other keys
    # (the banners', the navigation's) in one round trip, their entries in the same one
    # with Redis, else in a second.
    versions = {f"fragver:task:{task.pk}:attachments", f"fragver:group:{world.class_7a.pk}:tasks"}
    with_versions = [keys for _kind, keys in cache_reads if versions & set(keys)]
    assert len(with_versions) == 1 and versions | {INCIDENTS_KEY} <= set(with_versions[0])
    trips = _fragment_trips(cache_reads)
    assert len(trips) == (1 if redis_reads_entries_at_once() else 2), cache_reads
    entries = [keys for keys in trips if any(k.startswith("frag:") for k in keys)]
    assert len(entries) == 1, cache_reads
    assert any(key.startswith(f"frag:tasks:attachments:{task.pk}:") for key in entries[0])
    assert any(key.startswith(f"frag:tasks:{world.school.pk}:group:") for key in entries[0])


def test_the_task_list_reads_its_cached_parts_with_the_pages_keys(
    world, task, client_for, cache_reads
):
    from kreide.status.services import INCIDENTS_KEY

    client = client_for(world.student_7a)
    _list(client)
    cache_reads.clear()
    assert task.title in _list(client)
    version = f"fragver:group:{world.class_7a.pk}:tasks"
    with_version = [keys for _kind, keys in cache_reads if version in keys]
    assert len(with_version) == 1 and INCIDENTS_KEY in with_version[0]
    # The class's task list's entry: with Redis in that same round trip.
    trips = _fragment_trips(cache_reads)
    assert len(trips) == (1 if redis_reads_entries_at_once() else 2), cache_reads
    entries = [keys for keys in trips if any(k.startswith("frag:") for k in keys)]
    assert len(entries) == 1, cache_reads
    assert any(key.startswith(f"frag:tasks:{world.school.pk}:group:") for key in entries[0])


def test_a_task_address_naming_no_task_leaves_no_version_behind(world, task, client_for):
    from django.core.cache import cache

    client = client_for(world.student_7a)
    missing = task.pk + 1000
    assert client.get(reverse("tasks:detail", args=[missing])).status_code == 404
    assert cache.get(f"fragver:task:{missing}:attachments") is None
    assert _detail(client, task) == 200
    assert cache.get(f"fragver:task:{task.pk}:attachments") is not None


@pytest.mark.parametrize("page", ["list", "detail"])
def test_a_students_first_visit_writes_their_version_and_entry_at_once(
    world, task, client_for, cache_reads, monkeypatch, page
):
    from django.core.cache import cache

    from kreide.core import fragments

    url = reverse("tasks:list") if page == "list" else reverse("tasks:detail", args=[task.pk])
    assert client_for(world.classmate_7a).get(url).status_code == 200  # the class's entries
    client = client_for(world.student_7a)
    writes = []
    monkeypatch.setattr(fragments, "_write", writes.append)
    monkeypatch.setattr(cache, "set_many", lambda *args: pytest.fail(f"set_many{args}"))
    cache_reads.clear()
    assert client.get(url).status_code == 200  # nothing of the student's own is cached
    user = world.student_7a.pk
    own = f"frag:tasks:{world.school.pk}:student:{user}:"
    if redis_reads_entries_at_once() or page == "detail":
        # Under the version set just now no entry can be cached: none is asked for.
        assert not [keys for _kind, keys in cache_reads if any(k.startswith(own) for k in keys)]
    # The student's new version and their entry, and the navigation's unread messages
    # counted while the page rendered: one round trip.
    [held] = writes
    written = set().union(*held.values())
    assert f"fragver:user:{user}:tasks" in written
    assert any(key.startswith(own) for key in written)
    assert unread_key(user) in written
