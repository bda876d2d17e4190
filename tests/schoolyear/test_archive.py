"""Last year's class: read-only, and only for the people who were in it."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from kreide.accounts import services as account_services
from kreide.messenger import services as messenger
from kreide.schools import services as school_services
from kreide.tasks import services as tasks

pytestmark = pytest.mark.django_db


def test_former_members_read_the_archive(rolled, client_for):
    url = reverse("schoolyear:archive", args=[rolled.class_7a.pk])
    student = client_for(rolled.student_7a).get(url).content.decode()
    assert "Archiv 2025/26" in student and "Bruchrechnung" in student
    assert "MEINE-ANTWORT" in student and "KLASSENCHAT" in student and "AUFGABENTEXT" in student
    teacher = client_for(rolled.teacher_7a).get(url).content.decode()
    assert "MEINE-ANTWORT" in teacher and "KLASSENCHAT" in teacher
    # A parent sees the tasks and their child's state, not the contents or the room.
    parent = client_for(rolled.parent).get(url).content.decode()
    assert "Bruchrechnung" in parent and "abgegeben" in parent
    assert "MEINE-ANTWORT" not in parent and "KLASSENCHAT" not in parent
    listing = client_for(rolled.student_7a).get(reverse("schoolyear:archives")).content.decode()
    assert "7a (2025/26)" in listing
    # The navigation offers the archive to former members only.
    archive_link = f'href="{reverse("schoolyear:archives")}"'
    assert archive_link in client_for(rolled.student_7a).get("/").content.decode()
    assert archive_link not in client_for(rolled.admin).get("/").content.decode()


def test_a_class_archived_without_the_rollover_shows_in_the_navigation(
    rolled, make_group, make_user, client_for
):
    """Archived classes feed the navigation's cached "has archives" (schoolyear/apps.py),
    whoever archives them."""
    from kreide.schools.models import Group

    class_9c = make_group(rolled.school, "9c", grade=9)
    student = client_for(make_user(rolled.school, groups=(class_9c,)))
    archive_link = f'href="{reverse("schoolyear:archives")}"'
    assert archive_link not in student.get("/").content.decode()  # cached now
    Group.objects.for_school(rolled.school).filter(pk=class_9c.pk).update(
        archived_year="2025/26", is_active=False
    )
    assert archive_link in student.get("/").content.decode()


@pytest.mark.parametrize(
    "who",
    [
        "student_7b",
        "teacher_7b",
        "admin",
        "other_student",
        "other_admin",
        "teacher_10a",
        "graduate",
    ],
)
def test_nobody_else_reads_it(rolled, client_for, who):
    client = client_for(getattr(rolled, who))
    assert client.get(reverse("schoolyear:archive", args=[rolled.class_7a.pk])).status_code == 403
    assert "7a (2025/26)" not in client.get(reverse("schoolyear:archives")).content.decode()


def test_class_folder_files_download_for_former_members_only(
    rolled, client_for, settings, tmp_path
):
    settings.STORAGE_DIR = tmp_path / "blobs"
    from kreide.files.models import Node, Space
    from kreide.storage.blobstore import store_bytes

    space = Space.unscoped.create(school=rolled.school, group=rolled.class_7a)
    root = Node.unscoped.create(school=rolled.school, space=space, name="", is_folder=True)
    node = Node.unscoped.create(
        school=rolled.school,
        space=space,
        parent=root,
        name="Arbeitsblatt.pdf",
        blob=store_bytes(b"%PDF Arbeitsblatt"),
        size=17,
    )
    url = reverse("schoolyear:archive_file", args=[rolled.class_7a.pk, node.pk])
    page = client_for(rolled.student_7a).get(
        reverse("schoolyear:archive", args=[rolled.class_7a.pk])
    )
    assert "Arbeitsblatt.pdf" in page.content.decode()
    response = client_for(rolled.student_7a).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF Arbeitsblatt"
    for who in (rolled.parent, rolled.student_7b, rolled.other_student):
        assert client_for(who).get(url).status_code == 403
    # A file of another class is not reachable through this class's archive.
    other = reverse("schoolyear:archive_file", args=[rolled.class_7b.pk, node.pk])
    assert client_for(rolled.student_7b).get(other).status_code == 403


def test_a_class_deactivated_by_the_office_is_no_archive(year, client_for, deactivate):
    deactivate(year.class_7a)
    url = reverse("schoolyear:archive", args=[year.class_7a.pk])
    for who in (year.student_7a, year.teacher_7a, year.parent):
        assert client_for(who).get(url).status_code == 403


def test_an_account_the_office_deactivated_reads_nothing(rolled, client_for):
    # Only the rollover's graduates and leavers keep a read-only sign-in (test_graduates.py);
    # the office closing the account ends it, and a session it had is void.
    account_services.set_active(rolled.admin, rolled.leaver, False)
    response = client_for(rolled.leaver).get(
        reverse("schoolyear:archive", args=[rolled.class_7a.pk])
    )
    assert response.status_code == 302


def test_the_archive_is_read_only(rolled):
    task = rolled.task
    # No hand-in, no edits of the task, no messages in the old room.
    with pytest.raises(tasks.SubmissionRefused):
        tasks.check_can_submit(rolled.student_7a, task, None)
    assert not tasks.can_manage(rolled.teacher_7a, task)
    with pytest.raises(PermissionDenied):
        tasks.get_task_for(rolled.teacher_7a, task.pk)
    with pytest.raises(messenger.MessengerError):
        messenger.send_message(rolled.student_7a, rolled.room.pk, "neu", "key-0000000002")
    with pytest.raises(PermissionDenied):
        school_services.set_group_active(rolled.admin, rolled.class_7a, True)


def test_the_archive_page_costs_a_bounded_number_of_queries(
    rolled, client_for, django_assert_max_num_queries
):
    client = client_for(rolled.student_7a)
    url = reverse("schoolyear:archive", args=[rolled.class_7a.pk])
    client.get(url)
    with django_assert_max_num_queries(16):
        assert client.get(url).status_code == 200
