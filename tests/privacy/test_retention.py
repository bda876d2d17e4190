"""Retention rules delete exactly what expired, free the files nothing else refers to, and
count the same in a dry run; deactivated accounts go after their period."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone, translation

from kreide.accounts import services as accounts
from kreide.accounts.models import User
from kreide.core import audit
from kreide.core.models import AuditEntry
from kreide.files import services as files
from kreide.files.models import Node
from kreide.messenger import services as messenger
from kreide.messenger.models import Message
from kreide.notifications.models import Notification
from kreide.parents.models import AbsenceReport
from kreide.privacy import retention, services
from kreide.privacy.models import Deactivation, RetentionRun
from kreide.storage import blobstore
from kreide.storage.models import Blob
from kreide.tasks.models import Submission, SubmissionFile, Task
from kreide.video.models import Admission, ChatMessage, VideoLesson
from tests.privacy.conftest import age, review
from tests.visible import visible_text

pytestmark = pytest.mark.django_db


def _counts(run: RetentionRun) -> dict[str, int]:
    return {kind: count for kind, count in run.counts.items() if count}


def test_only_expired_submissions_go_and_their_unshared_files_are_freed(world, hand_in):
    old = hand_in(world.student_7a, b"old essay")
    shared = hand_in(world.classmate_7a, b"same bytes", task=old.task)
    recent = hand_in(world.student_7a, b"recent essay")
    recent_shared = hand_in(world.classmate_7a, b"same bytes", task=recent.task)
    Task.unscoped.filter(pk=old.task_id).update(due_at=timezone.now() - timedelta(days=366))
    old_blob = SubmissionFile.unscoped.get(submission=old).blob
    shared_blob = SubmissionFile.unscoped.get(submission=shared).blob
    assert shared_blob == SubmissionFile.unscoped.get(submission=recent_shared).blob

    run = retention.run(world.school)

    assert _counts(run) == {"submissions": 2}
    assert set(Submission.unscoped.values_list("pk", flat=True)) == {recent.pk, recent_shared.pk}
    assert Task.unscoped.filter(pk=old.task_id).exists()  # tasks have their own, longer rule
    assert not Blob.objects.filter(pk=old_blob.pk).exists()
    assert not blobstore.blob_path(old_blob).exists()
    # Still referred to by the recent submission: kept.
    assert blobstore.blob_path(shared_blob).exists()


def test_the_dry_run_counts_what_the_real_run_deletes(world, hand_in, room):
    hand_in(world.student_7a, b"one")
    task_old = hand_in(world.classmate_7a, b"two").task
    Task.unscoped.filter(pk=task_old.pk).update(due_at=timezone.now() - timedelta(days=800))
    for number in range(3):
        messenger.send_message(world.student_7a, room.pk, f"Hallo {number}", f"retention-{number}")
    age(Message.unscoped.filter(body__in=["Hallo 0", "Hallo 1"]), "created_at", 400)
    Notification.objects.for_school(world.school).create(user=world.student_7a, text="alt")
    age(Notification.unscoped.all(), "created_at", 91)
    audit.record(world.school, world.admin, "account.updated", world.student_7a)
    age(AuditEntry.unscoped.filter(school=world.school), "created_at", 366)
    old_entries = AuditEntry.unscoped.filter(school=world.school).count()
    before = {model: model._base_manager.count() for model in (Message, Task, Submission)}

    dry = retention.run(world.school, dry_run=True)

    assert {model: model._base_manager.count() for model in before} == before
    real = retention.run(world.school)
    assert dry.counts == real.counts
    assert _counts(real) == {
        "submissions": 1,  # of the old task: its own rule comes first
        "tasks": 1,
        "messages": 2,
        "notifications": 1,
        "audit_log": old_entries,
    }
    assert list(Message.unscoped.values_list("body", flat=True)) == ["Hallo 2"]
    # Another dry run finds nothing left to delete.
    assert not _counts(retention.run(world.school, dry_run=True))


def test_a_schools_own_period_replaces_the_default_and_empty_keeps_everything(world, room):
    messenger.send_message(world.student_7a, room.pk, "Hallo", "retention-1")
    age(Message.unscoped.all(), "created_at", 40)
    services.set_period(world.admin, world.school, "messages", 30)
    assert retention.periods(world.school)["messages"] == 30
    assert retention.run(world.school, dry_run=True).counts["messages"] == 1
    services.set_period(world.admin, world.school, "messages", None)
    assert retention.run(world.school).counts["messages"] == 0
    assert Message.unscoped.count() == 1
    changes = AuditEntry.unscoped.filter(action="privacy.rule_changed")
    assert [entry.details["days"] for entry in changes.order_by("pk")] == [[365, 30], [30, None]]


def test_the_rules_of_one_school_leave_another_school_alone(world, hand_in):
    hand_in(world.student_7a, b"nord")
    Task.unscoped.update(due_at=timezone.now() - timedelta(days=800))
    run = retention.run(world.other_school)
    assert not _counts(run)
    assert Task.unscoped.count() == 1


def test_a_deactivated_account_loses_its_files_then_everything(
    world, hand_in, room, django_capture_on_commit_callbacks
):
    student = world.student_7a
    actor = files.Actor(student)
    root = files.root_of(files.personal_space(student))
    own_blob = blobstore.store_bytes(b"private notes")
    files.add_file(actor, root, "notizen.txt", own_blob)
    submission = review(world.teacher_7a, hand_in(student, b"essay"))
    messenger.send_message(student, room.pk, "Tschüss", "goodbye-1")
    with django_capture_on_commit_callbacks(execute=True):
        accounts.set_active(world.admin, student, False)
    since = Deactivation.objects.get(user=student).since
    now = since + timedelta(days=91)

    run = retention.run(world.school, now=now)

    assert run.counts["leaver_files"] >= 1 and run.counts["deactivated_accounts"] == 0
    assert not Node.unscoped.filter(name="notizen.txt").exists()
    assert not Blob.objects.filter(pk=own_blob.pk).exists()
    assert Submission.unscoped.filter(pk=submission.pk).exists()  # not a file of theirs

    with django_capture_on_commit_callbacks(execute=True):
        run = retention.run(world.school, now=since + timedelta(days=366))

    assert run.counts["deactivated_accounts"] == 1
    assert not User.objects.filter(pk=student.pk).exists()
    erased = AuditEntry.unscoped.get(action="privacy.person_erased")
    assert erased.details["account"] == student.pk and erased.actor is None
    assert not Submission.unscoped.filter(pk=submission.pk).exists()
    assert not Message.unscoped.filter(body="Tschüss").exists()
    assert User.objects.filter(pk=world.classmate_7a.pk).exists()


def test_reactivating_stops_the_clock_and_accounts_deactivated_in_bulk_are_found(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        accounts.set_active(world.admin, world.student_7a, False)
    assert Deactivation.objects.filter(user=world.student_7a).exists()
    with django_capture_on_commit_callbacks(execute=True):
        accounts.set_active(world.admin, world.student_7a, True)
    assert not Deactivation.objects.filter(user=world.student_7a).exists()
    User.objects.filter(pk=world.classmate_7a.pk).update(is_active=False)  # no event
    later = timezone.now() + timedelta(days=10)
    retention.run(world.school, now=later)
    assert Deactivation.objects.get(user=world.classmate_7a).since == later
    assert (
        retention.run(world.school, now=later + timedelta(days=364)).counts["deactivated_accounts"]
        == 0
    )
    assert (
        retention.run(world.school, now=later + timedelta(days=366)).counts["deactivated_accounts"]
        == 1
    )


def test_a_teachers_feedback_follows_the_submission_not_the_teacher(
    world, hand_in, django_capture_on_commit_callbacks
):
    submission = review(world.teacher_7a, hand_in(world.student_7a, b"essay"), "Prima")
    with django_capture_on_commit_callbacks(execute=True):
        accounts.set_active(world.admin, world.teacher_7a, False)
    since = Deactivation.objects.get(user=world.teacher_7a).since
    retention.run(world.school, now=since + timedelta(days=366))
    assert not User.objects.filter(pk=world.teacher_7a.pk).exists()
    submission.refresh_from_db()
    assert (submission.feedback, submission.reviewed_by_id) == ("Prima", None)


def test_the_command_counts_per_rule_and_a_dry_run_deletes_nothing(world, room, capsys):
    messenger.send_message(world.student_7a, room.pk, "Hallo", "retention-1")
    age(Message.unscoped.all(), "created_at", 400)
    call_command("retention", "--school", "nord", "--dry-run")
    out = capsys.readouterr().out
    assert "nord: retention would delete:" in out and "  messages: 1" in out
    assert Message.unscoped.count() == 1
    call_command("housekeeping")
    out = capsys.readouterr().out
    assert "nord: retention deleted:" in out and "  messages: 1" in out
    assert Message.unscoped.count() == 0
    assert RetentionRun.objects.for_school(world.school).filter(dry_run=False).exists()
    with pytest.raises(CommandError, match="no school"):
        call_command("retention", "--school", "nirgends")


def test_the_office_changes_a_period_and_bad_input_changes_nothing(world, client_for):
    from django.urls import reverse

    admin = client_for(world.admin)
    url = reverse("privacy:overview")
    response = admin.post(url, {"kind": "messages", "days": "30"}, follow=True)
    assert "Die Löschfrist wurde gespeichert." in response.content.decode()
    assert retention.periods(world.school)["messages"] == 30
    for bad in ({"kind": "messages", "days": "-3"}, {"kind": "nonsense", "days": "5"}):
        page = admin.post(url, bad).content.decode()
        assert "Bitte eine Zahl von Tagen" in page
    assert retention.periods(world.school)["messages"] == 30
    assert retention.periods(world.other_school)["messages"] == 365
    admin.post(reverse("privacy:office_dry_run"))
    page = admin.get(url).content.decode()
    assert "Letzte Probezählung" in page


def test_archived_classes_go_two_years_after_their_school_year(world, make_group, make_user):
    from kreide.schools.models import Group
    from kreide.schoolyear.models import SchoolYear

    today = timezone.localdate()
    for label, ends in (("2021/22", today - timedelta(days=800)), ("2024/25", today)):
        SchoolYear.objects.for_school(world.school).create(
            label=label, starts_on=ends - timedelta(days=300), ends_on=ends
        )
    old = make_group(world.school, "6a (2021/22)")
    recent = make_group(world.school, "6b (2024/25)")
    actor = files.Actor(make_user(world.school, User.Role.TEACHER, groups=(old,)))
    folder = files.root_of(files.group_space(old))
    blob = blobstore.store_bytes(b"class photo")
    files.add_file(actor, folder, "klassenfoto.jpg", blob)
    # What the rollover leaves of last year's classes.
    Group.unscoped.filter(pk=old.pk).update(is_active=False, archived_year="2021/22")
    Group.unscoped.filter(pk=recent.pk).update(is_active=False, archived_year="2024/25")

    run = retention.run(world.school)

    assert run.counts["archived_classes"] == 1
    assert set(Group.unscoped.filter(school=world.school).values_list("name", flat=True)) == {
        "7a", "7b", "6b (2024/25)",
    }  # fmt: skip
    assert not Node.unscoped.filter(name="klassenfoto.jpg").exists()
    assert not Blob.objects.filter(pk=blob.pk).exists()


def _lesson(world, ends_at, title: str) -> VideoLesson:
    return VideoLesson.objects.for_school(world.school).create(
        group=world.class_7a,
        teacher=world.teacher_7a,
        title=title,
        starts_at=ends_at - timedelta(hours=1),
        ends_at=ends_at,
        join_opens_at=ends_at - timedelta(hours=1),
        status=VideoLesson.Status.ENDED,
        ended_at=ends_at,
    )


def _attend(lesson: VideoLesson, user, text: str) -> None:
    at = lesson.starts_at + timedelta(minutes=5)
    Admission.objects.for_school(lesson.school_id).create(
        lesson=lesson, user=user, state=Admission.State.LEFT, queued_at=at, last_seen=at
    )
    chat = ChatMessage.objects.for_school(lesson.school_id).create(
        lesson=lesson, author=user, text=text
    )
    ChatMessage.unscoped.filter(pk=chat.pk).update(created_at=at)  # said during the lesson


def test_video_chat_and_attendance_go_the_rules_period_after_the_lesson(world):
    later = timezone.now() + timedelta(days=100)  # the night the job runs
    old = _lesson(world, later - timedelta(days=31), "Bio vor einem Monat")
    recent = _lesson(world, later - timedelta(days=29), "Bio vor vier Wochen")
    for lesson in (old, recent):
        _attend(lesson, world.student_7a, f"Frage in {lesson.title}")
    _attend(recent, world.classmate_7a, "Noch eine Frage")

    dry = retention.run(world.school, dry_run=True, now=later)
    assert ChatMessage.unscoped.count() == 3 and Admission.unscoped.count() == 3
    run = retention.run(world.school, now=later)

    assert _counts(dry) == _counts(run) == {"video": 2}  # one chat message, one attendance
    assert set(ChatMessage.unscoped.values_list("text", flat=True)) == {
        "Frage in Bio vor vier Wochen",
        "Noch eine Frage",
    }
    assert set(Admission.unscoped.values_list("lesson_id", flat=True)) == {recent.pk}
    # The lessons themselves (the timetable's record) stay.
    assert VideoLesson.unscoped.filter(pk__in=[old.pk, recent.pk]).count() == 2
    # A school's shorter period: the recent lesson's traces go too.
    services.set_period(world.admin, world.school, "video", 7)
    assert _counts(retention.run(world.school, now=later)) == {"video": 4}
    assert not ChatMessage.unscoped.exists() and not Admission.unscoped.exists()


def test_absence_reports_go_the_rules_period_after_the_last_day_of_absence(world):
    today = timezone.localdate()
    later = timezone.now() + timedelta(days=400)  # cutoff: 365 days before, today + 35
    reports = {}
    for name, last_day in (
        ("lang her", today + timedelta(days=33)),
        ("jünger", today + timedelta(days=37)),
    ):
        reports[name] = AbsenceReport.objects.for_school(world.school).create(
            child=world.student_7a,
            reported_by=None,
            first_day=last_day - timedelta(days=20),  # began before the cutoff: the last day counts
            last_day=last_day,
            note=name,
        )

    assert _counts(retention.run(world.school, dry_run=True, now=later)) == {"absences": 1}
    run = retention.run(world.school, now=later)

    assert _counts(run) == {"absences": 1}
    assert list(AbsenceReport.unscoped.values_list("note", flat=True)) == ["jünger"]
    entry = AuditEntry.unscoped.get(action="privacy.retention")
    assert entry.details["counts"]["absences"] == 1


def _office_row(page: str, label: str) -> list[str]:
    """The visible cells of the privacy page's row for one rule."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        cells = [visible_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells and cells[0].startswith(label):
            return cells
    raise AssertionError(f"no row for {label}")


def test_the_office_sees_last_nights_counts_per_rule_and_the_log_says_them(
    world, room, client_for, caplog
):
    for number in range(3):
        messenger.send_message(
            world.student_7a, room.pk, f"Hallo {number}", f"retention-night-{number}"
        )
    age(Message.unscoped.exclude(body="Hallo 2"), "created_at", 400)
    with caplog.at_level(logging.INFO, logger="kreide.privacy"):
        retention.run(world.school)

    lines = [r.getMessage() for r in caplog.records if r.name == "kreide.privacy"]
    assert len(lines) == 1 and lines[0].startswith("retention nord: ")
    per_rule = dict(part.rsplit(" ", 1) for part in lines[0].split(": ", 1)[1].split(", "))
    assert per_rule == {r.kind: "2" if r.kind == "messages" else "0" for r in retention.RULES}

    page = client_for(world.admin).get(reverse("privacy:overview")).content.decode()
    with translation.override("de"):
        messages_label = str(retention.rule("messages").label)
        tasks_label = str(retention.rule("tasks").label)
    # Data, kept for days, deleted last night, would be deleted (no dry run yet).
    assert _office_row(page, messages_label)[2:] == ["2", "–"]
    assert _office_row(page, tasks_label)[2:] == ["0", "–"]
    assert "Letzter Lauf:" in visible_text(page)
