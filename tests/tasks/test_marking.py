"""The teacher's side of handing in: counts in the task list, marking one submission after
the other with inline previews, reminders for those who have not handed in, copies of a
task for other classes; and the student's explicit hand-in and taking back."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kreide.messenger.models import Message, Room
from kreide.storage.blobstore import store_bytes
from kreide.tasks import services
from kreide.tasks.models import Submission, Task

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def _hand_in(student, task, files=(("Lösung.txt", b"7/8"),), text=""):
    for name, data in files:
        services.add_file(student, task, store_bytes(data), name, timezone.now())
    if text:
        services.save_text(student, task, text)
    return services.hand_in(student, task)


@pytest.fixture
def crowd(world, make_user, make_task):
    """Class 7a with 6 students: 3 handed in (one reviewed), 1 draft, 2 nothing."""
    students = [world.student_7a, world.classmate_7a] + [
        make_user(world.school, groups=(world.class_7a,), last_name=f"Zeta{n}") for n in range(4)
    ]
    task = make_task()
    handed = [_hand_in(student, task) for student in students[:3]]
    services.review(world.teacher_7a, handed[0], "Gut")
    services.add_file(students[3], task, store_bytes(b"halb"), "Entwurf.txt", timezone.now())
    return task, students, handed


def test_task_list_counts_handed_in_and_to_review_in_fixed_queries(
    world, crowd, make_task, make_user, make_group, client_for, django_assert_max_num_queries
):
    client = client_for(world.teacher_7a)
    with django_assert_max_num_queries(9):
        page = client.get(reverse("tasks:list")).content.decode()
    assert "3 von 6 abgegeben" in page and "2 zu bewerten" in page
    # Ten more tasks, for two classes and for students by name: the same queries.
    other = make_group(world.school, "7c")
    Membership = world.class_7a.memberships.model
    Membership.unscoped.create(
        school=world.school, group=other, user=world.teacher_7a, role="teacher"
    )
    make_user(world.school, groups=(other,))
    for n in range(5):
        make_task(groups=[world.class_7a, other], title=f"Beide {n}")
        make_task(students=[world.student_7a], title=f"Einzeln {n}")
    with django_assert_max_num_queries(9):
        page = client.get(reverse("tasks:list")).content.decode()
    assert page.count("0 von 7 abgegeben") == 5 and page.count("0 von 1 abgegeben") == 5


def test_overview_shows_drafts_apart_and_starts_reviewing_at_the_first_waiting(
    world, crowd, client_for
):
    task, students, handed = crowd
    page = client_for(world.teacher_7a).get(reverse("tasks:detail", args=[task.pk]))
    text = page.content.decode()
    assert "3 von 6 abgegeben, 2 zu bewerten" in text
    assert "nicht abgegeben (arbeitet an einem Entwurf)" in text
    assert "3 Schülerinnen und Schüler erinnern, die noch nicht abgegeben haben" in text
    first_waiting = reverse("tasks:submission", args=[task.pk, handed[1].pk])
    assert f'href="{first_waiting}">Bewerten beginnen' in text
    draft = Submission.objects.for_school(world.school).get(student=students[3])
    # A draft stays the student's: no page, no files, not in the ZIP.
    teacher = client_for(world.teacher_7a)
    assert teacher.get(reverse("tasks:submission", args=[task.pk, draft.pk])).status_code == 404
    file_id = draft.files.get().pk
    url = reverse("tasks:submission-file", args=[task.pk, file_id])
    assert teacher.get(url).status_code == 404


def test_save_and_next_goes_to_the_next_student_waiting(world, crowd, client_for):
    task, students, handed = crowd
    teacher = client_for(world.teacher_7a)
    url = reverse("tasks:submission", args=[task.pk, handed[1].pk])
    page = teacher.get(url).content.decode()
    assert "Speichern und weiter" in page and 'rel="prev"' in page and 'rel="next"' in page
    response = teacher.post(url, {"feedback": "Schön", "grade": "2", "next": "1"})
    assert response["Location"] == reverse("tasks:submission", args=[task.pk, handed[2].pk])
    # The last one waiting: saving goes back to the overview.
    response = teacher.post(
        reverse("tasks:submission", args=[task.pk, handed[2].pk]), {"feedback": "Ok", "next": "1"}
    )
    assert response["Location"] == reverse("tasks:detail", args=[task.pk])
    assert not Submission.objects.for_school(world.school).filter(status="submitted").exists()


def test_marking_page_previews_images_pdfs_and_text(world, make_task, client_for):
    task = make_task(expects=Task.Expects.BOTH)
    files = [
        ("Skizze.png", PNG),
        ("Aufsatz.pdf", b"%PDF-1.4 Aufsatz"),
        ("Notizen.txt", "Der Erlkönig <script>".encode("cp1252")),
        ("Tabelle.xlsx", b"PK\x03\x04"),
    ]
    submission = _hand_in(world.student_7a, task, files, text="Siehe Dateien")
    teacher = client_for(world.teacher_7a)
    page = teacher.get(reverse("tasks:submission", args=[task.pk, submission.pk])).content.decode()
    ids = {f.filename: f.pk for f in submission.files.all()}
    preview = lambda name: reverse("tasks:submission-preview", args=[task.pk, ids[name]])  # noqa: E731
    assert f'<img class="preview" src="{preview("Skizze.png")}"' in page
    assert f'<iframe class="preview" src="{preview("Aufsatz.pdf")}"' in page
    assert "Der Erlkönig &lt;script&gt;" in page  # Windows text, escaped
    assert "keine Vorschau" in page and "Tabelle.xlsx" in page
    shown = teacher.get(preview("Aufsatz.pdf"))
    assert shown.status_code == 200 and shown["Content-Disposition"].startswith("inline")
    assert shown["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in shown["Content-Security-Policy"]
    assert teacher.get(preview("Tabelle.xlsx")).status_code == 404
    assert client_for(world.classmate_7a).get(preview("Aufsatz.pdf")).status_code == 404
    assert client_for(world.teacher_7b).get(preview("Aufsatz.pdf")).status_code == 404


def test_remind_sends_one_direct_message_to_each_who_has_not_handed_in(world, crowd, client_for):
    task, students, _handed = crowd
    teacher = client_for(world.teacher_7a)
    url = reverse("tasks:remind", args=[task.pk])
    page = teacher.post(url, follow=True).content.decode()
    assert "3 Schülerinnen und Schüler wurden per Direktnachricht erinnert." in page
    reminded = Message.objects.for_school(world.school).filter(author=world.teacher_7a)
    assert reminded.count() == 3
    rooms = Room.objects.for_school(world.school).filter(kind=Room.Kind.DIRECT)
    recipients = {
        member.user_id
        for room in rooms
        for member in room.members.all()
        if member.user_id != world.teacher_7a.pk
    }
    assert recipients == {s.pk for s in students[3:]}
    assert all(task.title in m.body and f"/tasks/{task.pk}/" in m.body for m in reminded)
    # Twice the same day sends nothing twice.
    assert "Niemand musste erinnert werden" in teacher.post(url, follow=True).content.decode()
    assert reminded.count() == 3
    assert client_for(world.teacher_7b).post(url).status_code == 404
    assert client_for(world.student_7a).post(url).status_code == 404


def test_copy_a_task_to_another_class_with_its_worksheets(world, task, make_group, client_for):
    other = make_group(world.school, "7c")
    Membership = world.class_7a.memberships.model
    Membership.unscoped.create(
        school=world.school, group=other, user=world.teacher_7a, role="teacher"
    )
    services.add_attachment(world.teacher_7a, task, store_bytes(b"%PDF blatt"), "Blatt.pdf")
    teacher = client_for(world.teacher_7a)
    page = teacher.get(reverse("tasks:detail", args=[task.pk])).content.decode()
    copy_form = page.split("In andere Klassen kopieren", 1)[1]
    assert f'value="{other.pk}"' in copy_form and f'value="{world.class_7a.pk}"' not in copy_form
    response = teacher.post(reverse("tasks:copy", args=[task.pk]), {"groups": [other.pk]})
    assert response.status_code == 302
    copy = Task.objects.for_school(world.school).exclude(pk=task.pk).get()
    assert copy.title == task.title and copy.due_at == task.due_at
    assert list(copy.groups.all()) == [other]
    assert [a.filename for a in copy.attachments.all()] == ["Blatt.pdf"]
    # Only to classes one teaches: 7b is not offered and not accepted.
    refused = teacher.post(reverse("tasks:copy", args=[task.pk]), {"groups": [world.class_7b.pk]})
    assert refused.status_code == 302
    assert Task.objects.for_school(world.school).count() == 2
    assert (
        client_for(world.teacher_7b)
        .post(reverse("tasks:copy", args=[task.pk]), {"groups": [world.class_7b.pk]})
        .status_code
        == 404
    )


def test_hand_in_needs_what_the_task_expects_and_can_be_taken_back(world, make_task, client_for):
    task = make_task(expects=Task.Expects.BOTH)
    student = world.student_7a
    services.add_file(student, task, store_bytes(b"x"), "a.txt", timezone.now())
    with pytest.raises(services.SubmissionRefused, match="Text"):
        services.hand_in(student, task)
    services.save_text(student, task, "Antwort")
    submission = services.hand_in(student, task)
    assert submission.status == "submitted" and not submission.late
    code = submission.receipt_code
    assert len(code) == 9 and code[4] == "-"
    with pytest.raises(services.SubmissionRefused):
        services.save_text(student, task, "Noch etwas")
    services.take_back(student, task)
    services.save_text(student, task, "Noch etwas")
    again = services.hand_in(student, task)
    assert again.receipt != submission.receipt
    # After the due date nothing can be taken back or handed in late.
    Task.objects.for_school(world.school).filter(pk=task.pk).update(
        due_at=timezone.now() - timedelta(minutes=1)
    )
    task.refresh_from_db()
    with pytest.raises(services.SubmissionRefused):
        services.take_back(student, task)
    page = client_for(student).get(reverse("tasks:detail", args=[task.pk])).content.decode()
    assert "Zurückholen und ändern" not in page and again.receipt_code in page


def test_a_draft_past_the_due_date_is_overdue_but_kept(world, make_task, client_for):
    task = make_task(due_at=timezone.now() + timedelta(hours=1))
    services.add_file(world.student_7a, task, store_bytes(b"x"), "a.txt", timezone.now())
    Task.objects.for_school(world.school).filter(pk=task.pk).update(
        due_at=timezone.now() - timedelta(hours=1)
    )
    task.refresh_from_db()
    with pytest.raises(services.SubmissionRefused, match="Abgabetermin"):
        services.hand_in(world.student_7a, task)
    assert Submission.objects.for_school(world.school).get(task=task).files.count() == 1
    page = client_for(world.student_7a).get(reverse("tasks:list")).content.decode()
    assert "überfällig" in page


def test_new_task_form_groups_students_by_class(world, make_group, make_user, client_for):
    course = make_group(world.school, "Chor", kind="course", grade=None)
    Membership = world.class_7a.memberships.model
    Membership.unscoped.create(
        school=world.school, group=course, user=world.teacher_7a, role="teacher"
    )
    singer = make_user(world.school, groups=(course,), last_name="Amsel")
    page = client_for(world.teacher_7a).get(reverse("tasks:create")).content.decode()
    picker = page.split("data-student-picker", 1)[1].split("</fieldset>", 1)[0]
    assert f'data-group="{world.class_7a.pk}"' in picker and f'data-group="{course.pk}"' in picker
    sections = {
        part.split('"', 1)[0]: part.split("</details>", 1)[0]
        for part in picker.split('data-group="')[1:]
    }
    class_part, course_part = sections[str(world.class_7a.pk)], sections[str(course.pk)]
    assert world.student_7a.last_name in class_part and singer.last_name in course_part
    assert singer.last_name not in class_part and world.student_7b.last_name not in picker
    assert "<select" not in picker


def test_marking_page_costs_the_same_for_few_or_many_files_and_students(
    world, make_task, make_user, client_for
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    task = make_task()
    few = _hand_in(world.student_7a, task)
    teacher = client_for(world.teacher_7a)

    def queries(submission) -> int:
        url = reverse("tasks:submission", args=[task.pk, submission.pk])
        with CaptureQueriesContext(connection) as captured:
            assert teacher.get(url).status_code == 200
        return len(captured)

    queries(few)  # the navigation's unread count, then cached for 30 seconds
    queries(few)  # the user kept in the process where Redis is shared (accounts.keptuser)
    before = queries(few)
    others = [make_user(world.school, groups=(world.class_7a,)) for _ in range(10)]
    for student in others:
        _hand_in(student, task)
    many = _hand_in(world.classmate_7a, task, [(f"Seite {n}.png", PNG) for n in range(12)])
    assert queries(many) == before <= 12, before
