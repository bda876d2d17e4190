from datetime import date, time

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from kreide.schedule import services
from kreide.schedule.models import StartWindow
from kreide.schools.services import set_group_active
from tests.visible import visible_text

DAY = date(2027, 1, 11)


def test_class_window_wins_over_grade_window_and_teachers_get_the_earliest(
    world, make_group, django_capture_on_commit_callbacks
):
    services.add_window(world.admin, DAY, time(8, 0), grade_from=7, grade_to=8)
    services.add_window(world.admin, DAY, time(7, 50), grade_from=5, grade_to=6)
    assert services.start_time_for(world.student_7a, DAY) == time(8, 0)
    with django_capture_on_commit_callbacks(execute=True):  # renews the cached windows
        services.add_window(world.admin, DAY, time(8, 10), group=world.class_7b)
    assert services.start_time_for(world.student_7b, DAY) == time(8, 10)
    assert services.start_time_for(world.student_7a, DAY) == time(8, 0)
    fifth = make_group(world.school, "5c", grade=5)
    world.teacher_7a.memberships.create(school=world.school, group=fifth, role="teacher")
    assert services.start_time_for(world.teacher_7a, DAY) == time(7, 50)
    assert services.start_time_for(world.other_student, DAY) is None
    assert services.start_time_for(world.student_7a, date(2027, 1, 12)) is None


def test_only_the_schools_admin_sets_windows(world):
    with pytest.raises(PermissionDenied):
        services.add_window(world.teacher_7a, DAY, time(8, 0), grade_from=5, grade_to=6)
    with pytest.raises(PermissionDenied):  # another school's class
        services.add_window(world.other_admin, DAY, time(8, 0), group=world.class_7a)


def test_admin_page_sets_window_and_student_sees_it_on_the_dashboard(
    client_for, world, django_capture_on_commit_callbacks
):
    admin = client_for(world.admin)
    today = timezone.localdate()
    refused = admin.post(
        "/schedule/", {"day": today, "starts_at": "08:00", "grade_from": "8", "grade_to": "7"}
    )
    assert "Die erste Klassenstufe darf nicht über der letzten liegen." in refused.content.decode()
    missing = admin.post("/schedule/", {"day": today, "starts_at": "08:00"})
    assert (
        "Bitte eine Klasse oder einen Bereich von Klassenstufen wählen." in missing.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        saved = admin.post(
            "/schedule/", {"day": today, "starts_at": "08:05", "group": world.class_7a.pk}
        )
    assert saved.status_code == 302
    assert (
        "Deine Klasse beginnt heute um 08:05."
        in client_for(world.student_7a).get("/").content.decode()
    )
    teacher = client_for(world.teacher_7a).get("/").content.decode()
    assert "Ihre erste Klasse beginnt heute um 08:05." in teacher  # staff: "Sie"
    assert "08:05" not in client_for(world.student_7b).get("/").content.decode()
    assert client_for(world.teacher_7a).get("/schedule/").status_code == 403
    window = StartWindow.objects.for_school(world.school).get()
    assert client_for(world.other_admin).post(f"/schedule/{window.pk}/delete/").status_code == 302
    assert StartWindow.objects.for_school(world.school).exists()
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/schedule/{window.pk}/delete/")
    assert "Klasse beginnt" not in client_for(world.student_7a).get("/").content.decode()


def test_windows_written_without_the_service_renew_the_cached_day(world):
    """StartWindow rows feed the school's cached windows (declared in apps.py)."""
    services.add_window(world.admin, DAY, time(8, 0), grade_from=7, grade_to=8)
    assert services.start_time_for(world.student_7a, DAY) == time(8, 0)  # cached now
    StartWindow.objects.for_school(world.school).update(starts_at=time(9, 0))
    assert services.start_time_for(world.student_7a, DAY) == time(9, 0)
    StartWindow.objects.for_school(world.school).create(
        day=DAY, starts_at=time(7, 30), group=world.class_7a
    )
    assert services.start_time_for(world.student_7a, DAY) == time(7, 30)
    StartWindow.objects.for_school(world.school).delete()
    assert services.start_time_for(world.student_7a, DAY) is None


def test_a_deactivated_class_has_no_start_window_until_reactivated(
    world, client_for, django_capture_on_commit_callbacks
):
    today = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        services.add_window(world.admin, today, time(8, 5), group=world.class_7a)
        services.add_window(world.admin, today, time(9, 15), grade_from=7, grade_to=7)
    assert services.start_time_for(world.student_7a, today) == time(8, 5)
    assert services.start_time_for(world.teacher_7a, today) == time(8, 5)

    set_group_active(world.admin, world.class_7a, False)
    # Neither the class's own window nor its grade's: as far as anything goes, 7a has
    # no members and no teachers now; 7b still starts by the grade's window.
    assert services.start_time_for(world.student_7a, today) is None
    assert services.start_time_for(world.teacher_7a, today) is None
    assert services.start_time_for(world.student_7b, today) == time(9, 15)
    page = visible_text(client_for(world.student_7a).get("/").content.decode())
    assert "Deine Klasse beginnt heute" not in page

    set_group_active(world.admin, world.class_7a, True)
    assert services.start_time_for(world.student_7a, today) == time(8, 5)
    page = visible_text(client_for(world.student_7a).get("/").content.decode())
    assert "Deine Klasse beginnt heute um 08:05." in page
