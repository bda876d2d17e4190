"""The streamed ZIP of all submissions, and query counts that do not grow with the data."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kreide.accounts.models import User
from kreide.core import fragments
from kreide.storage.blobstore import store_bytes
from kreide.storage.zipstream import stream_zip
from kreide.tasks import services
from kreide.tasks.models import Task

pytestmark = pytest.mark.django_db


def test_zip_is_streamed_with_safe_unique_names(world, task, make_user, client_for):
    sneaky = make_user(
        world.school, groups=(world.class_7a,), first_name="../..", last_name="Müller/Ö"
    )
    now = timezone.now()
    for student, files in [
        (world.student_7a, [("Lösung.pdf", b"eins"), ("Lösung.pdf", b"zwei")]),
        (sneaky, [("../../etc/passwd", b"drei")]),
    ]:
        for name, data in files:
            services.add_file(student, task, store_bytes(data), name, now)
        services.hand_in(student, task)
    response = client_for(world.teacher_7a).get(reverse("tasks:zip", args=[task.pk]))
    assert response.streaming and response["Content-Type"] == "application/zip"
    chunks = list(response.streaming_content)
    assert len(chunks) > 1
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    names = archive.namelist()
    student = world.student_7a
    folder = f"{student.last_name}, {student.first_name} ({student.username})"
    assert f"{folder}/Lösung.pdf" in names and f"{folder}/Lösung (2).pdf" in names
    assert archive.read(f"{folder}/Lösung (2).pdf") == b"zwei"
    assert all(".." not in part for name in names for part in name.split("/"))
    assert sum(1 for name in names if name.endswith("/passwd")) == 1
    assert len(names) == 3


def test_stream_zip_yields_small_chunks_for_a_large_member(settings, tmp_path):
    data = bytes(range(256)) * 20_000  # 5 MB
    blob = store_bytes(data)
    chunks = list(stream_zip([("gross.bin", blob, timezone.now())]))
    assert max(len(chunk) for chunk in chunks) < 2 * 1024 * 1024
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.read("gross.bin") == data


def _class_of(make_user, make_group, school, size: int):
    group = make_group(school, "8c")
    teacher = make_user(school, User.Role.TEACHER, groups=(group,))
    students = [make_user(school, groups=(group,)) for _ in range(size)]
    return group, teacher, students


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_task_page_costs_the_same_for_every_student_of_a_class(
    world, make_user, make_group, client_for
):
    group, teacher, students = _class_of(make_user, make_group, world.school, 30)
    task = services.save_task(
        teacher, Task(title="Erlkönig", due_at=timezone.now() + timedelta(days=1)), [group], []
    )
    for index in range(5):
        services.add_attachment(
            teacher, task, store_bytes(f"Blatt {index}".encode()), f"Blatt {index}.pdf"
        )
    for student in students[:10]:
        services.add_file(
            student, task, store_bytes(student.username.encode()), "a.pdf", timezone.now()
        )
    url = reverse("tasks:detail", args=[task.pk])
    # One student with a submission, one without, the last of the class: the same bound.
    counts = [
        _queries(client_for(student), url) for student in (students[0], students[15], students[-1])
    ]
    # At most 9: 8, and the navigation's unread messages, counted once per 30 seconds.
    assert max(counts) <= 9, counts
    # The teacher's overview of 30 students and 10 submissions is bounded too.
    assert _queries(client_for(teacher), url) <= 10


def test_task_list_costs_the_same_for_2_or_200_tasks(world, make_task, client_for):
    client = client_for(world.student_7a)
    url = reverse("tasks:list")
    for _ in range(2):
        make_task()
    client.get(url)  # the student's own entry is cached; the class's is renewed below
    client.get(url)  # the user kept in the process where Redis is shared (accounts.keptuser)
    fragments.bump(services.group_tasks_scope(world.class_7a.pk))
    few = _queries(client, url)
    now = timezone.now()
    tasks = Task.objects.for_school(world.school).bulk_create(
        Task(
            school=world.school,
            title=f"Aufgabe {i}",
            starts_at=now - timedelta(hours=1),
            due_at=now + timedelta(days=i % 20),
        )
        for i in range(198)
    )
    Task.groups.through.objects.bulk_create(
        Task.groups.through(task_id=t.pk, group_id=world.class_7a.pk) for t in tasks
    )
    # Written past the services: bump the class's tasks like save_task() does.
    fragments.bump(services.group_tasks_scope(world.class_7a.pk))
    many = _queries(client, url)
    assert many == few and many <= 6
    assert client.get(url).content.decode().count("/tasks/") >= 200
    dashboard = reverse("dashboard:home")
    with CaptureQueriesContext(connection) as captured:
        assert client.get(dashboard).status_code == 200
    tasks_queries = [q for q in captured.captured_queries if "tasks_" in q["sql"]]
    assert len(tasks_queries) <= 4
