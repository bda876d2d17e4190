"""The rollover: the dry run shows exactly what the real run does."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.schools.models import Group, Membership, School
from kreide.schoolyear import services
from kreide.schoolyear.models import ClassException, Leaver, SchoolYear

pytestmark = pytest.mark.django_db


def _state(school) -> dict:
    groups = {
        g.name: (g.is_active, g.archived_year, g.grade) for g in Group.objects.for_school(school)
    }
    members = sorted(
        Membership.objects.for_school(school).values_list("group__name", "user_id", "role")
    )
    active = sorted(
        User.objects.for_school(school).filter(is_active=True).values_list("pk", flat=True)
    )
    return {"groups": groups, "members": members, "active": active}


def test_dry_run_changes_nothing_and_equals_the_real_run(year, django_capture_on_commit_callbacks):
    before = _state(year.school)
    dry = services.rollover(year.admin, year.school, dry_run=True)
    assert _state(year.school) == before
    with django_capture_on_commit_callbacks(execute=True):
        real = services.rollover(year.admin, year.school, dry_run=False, expected=dry.digest())
    assert dry.as_dict() == real.as_dict()

    # What the plan said is what happened.
    school = year.school
    new = {
        g.name: g for g in Group.objects.for_school(school).filter(archived_year="", kind="class")
    }
    assert sorted(new) == sorted(name for name, _grade in real.new_classes) == ["8a"]
    for move in real.moves:
        old = Group.objects.for_school(school).get(pk=move.group_id)
        assert (old.name, old.archived_year, old.is_active) == (move.archived_as, "2025/26", False)
        if move.target:
            ids = set(
                Membership.objects.for_school(school)
                .filter(group=new[move.target])
                .values_list("user_id", flat=True)
            )
            assert set(move.students) | set(move.teachers) <= ids
    eight_a = set(
        Membership.objects.for_school(school).filter(group=new["8a"]).values_list("user_id", "role")
    )
    # 7a moves up (minus its leaver) and 7b merges in; their teachers follow.
    assert eight_a == {
        (year.student_7a.pk, "member"),
        (year.classmate_7a.pk, "member"),
        (year.student_7b.pk, "member"),
        (year.teacher_7a.pk, "teacher"),
        (year.teacher_7b.pk, "teacher"),
    }
    gone = {uid for uid, _reason in real.deactivated}
    assert gone == {year.leaver.pk, year.graduate.pk}
    assert not User.objects.filter(pk__in=gone, is_active=True).exists()
    assert User.objects.filter(pk__in=gone).count() == 2  # deactivated, never deleted
    assert dict(real.deactivated) == {year.leaver.pk: "leaver", year.graduate.pk: "graduates"}
    assert Group.objects.for_school(school).get(pk=year.course.pk).is_active  # kept
    # The old class's people stay recorded in its archive.
    assert (
        Membership.objects.for_school(school).filter(group=year.class_7a, user=year.leaver).exists()
    )
    # Archived counts: the 7a task, its submission and its message.
    move_7a = next(m for m in real.moves if m.name == "7a")
    assert (move_7a.tasks, move_7a.submissions, move_7a.messages) == (1, 1, 1)
    current = SchoolYear.objects.for_school(school).get(is_current=True)
    assert (current.label, str(current.starts_on)) == ("2026/27", "2026-08-01")
    assert not Leaver.objects.for_school(school).exists()
    assert not ClassException.objects.for_school(school).exists()
    entry = AuditEntry.objects.for_school(school).get(action="schoolyear.rollover")
    assert entry.details["deactivated"] == 2
    # The new class has its messenger room with the roster; the archived one is empty.
    room = new["8a"].room
    assert set(room.members.values_list("user_id", flat=True)) == {uid for uid, _ in eight_a}
    assert not year.room.members.exists()


def test_a_changed_school_since_the_dry_run_is_refused(year):
    dry = services.rollover(year.admin, year.school, dry_run=True)
    Leaver.objects.for_school(year.school).create(user=year.student_7b)
    before = _state(year.school)
    with pytest.raises(services.RolloverRefused):
        services.rollover(year.admin, year.school, dry_run=False, expected=dry.digest())
    assert _state(year.school) == before


def test_a_clashing_new_class_is_a_problem_and_nothing_runs(year, make_group):
    make_group(year.school, "8a", kind="course", grade=None)
    plan = services.plan_rollover(year.school)
    assert plan.problems
    with pytest.raises(services.RolloverRefused):
        services.rollover(year.admin, year.school, dry_run=False)
    assert Group.objects.for_school(year.school).get(pk=year.class_7a.pk).is_active


def test_only_the_school_office_rolls_over(year):
    from django.core.exceptions import PermissionDenied

    for who in (year.teacher_7a, year.student_7a, year.other_admin):
        with pytest.raises(PermissionDenied):
            services.rollover(who, year.school, dry_run=True)


def test_command_line_dry_run_then_rollover(year, django_capture_on_commit_callbacks):
    out = StringIO()
    call_command("school_year", "rollover", "--school", "nord", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "7a -> 8a" in text and "10a -> (leaves the school)" in text and "Dry run" in text
    assert Group.objects.for_school(year.school).get(pk=year.class_7a.pk).name == "7a"
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("school_year", "rollover", "--school", "nord", stdout=out, stderr=StringIO())
    assert "Rolled over." in out.getvalue()
    assert Group.objects.for_school(year.school).get(pk=year.class_7a.pk).name == "7a (2025/26)"
    with pytest.raises(CommandError):
        call_command("school_year", "rollover", "--school", "nirgends")


def test_next_label_and_a_year_without_a_current_one(school):
    assert services.next_label("2025/26") == "2026/27"
    assert services.next_label("2099/00") == "2100/01"
    assert services.plan_rollover(school).problems


def test_a_rollover_failing_halfway_changes_nothing(
    year, monkeypatch, django_capture_on_commit_callbacks
):
    """One transaction: the classes are already archived and the new one created when the
    rosters fail; all of it is undone and nothing is announced."""
    school = year.school
    before = _state(school)
    entries = AuditEntry.objects.for_school(school).count()
    room_members = set(year.room.members.values_list("user_id", flat=True))
    reached = []

    def broken(*args, **kwargs):
        reached.append(Group.objects.for_school(school).exclude(archived_year="").count())
        raise RuntimeError("the roster broke")

    with monkeypatch.context() as patched, django_capture_on_commit_callbacks() as callbacks:
        patched.setattr(services.school_services, "apply_membership_changes", broken)
        with pytest.raises(RuntimeError, match="the roster broke"):
            services.rollover(year.admin, school, dry_run=False)

    assert reached == [3]  # it failed after the first writes: 7a, 7b and 10a archived
    assert callbacks == []  # no event about classes that never changed
    assert _state(school) == before
    assert not Group.objects.for_school(school).exclude(archived_year="").exists()
    assert (
        not AuditEntry.objects.for_school(school)
        .filter(action__in=["schoolyear.rollover", "schoolyear.class_archived", "group.created"])
        .exists()
    )
    assert AuditEntry.objects.for_school(school).count() == entries
    assert SchoolYear.objects.for_school(school).get(is_current=True).label == "2025/26"
    assert SchoolYear.objects.for_school(school).count() == 1
    assert set(Leaver.objects.for_school(school).values_list("user_id", flat=True)) == {
        year.leaver.pk
    }
    assert ClassException.objects.for_school(school).get().group_id == year.class_7b.pk
    assert set(year.room.members.values_list("user_id", flat=True)) == room_members
    assert User.objects.get(pk=year.graduate.pk).is_active
    assert not School.objects.get(pk=school.pk).has_archives

    # Mended, the same rollover runs through.
    with django_capture_on_commit_callbacks(execute=True):
        services.rollover(year.admin, school, dry_run=False)
    assert AuditEntry.objects.for_school(school).filter(action="schoolyear.rollover").exists()
