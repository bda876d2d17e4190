"""A parent reports an absence; the class's teachers and the school office read and
acknowledge it, and the parent sees that."""

from datetime import date

import pytest
from django.urls import reverse

from kreide.parents.models import AbsenceReport

pytestmark = pytest.mark.django_db


def _report(client, child, first="2026-03-02", last="2026-03-04", note="Fieber"):
    return client.post(
        reverse("parents:report_absence", args=[child.pk]),
        {"first_day": first, "last_day": last, "note": note},
    )


def test_absence_round_trip(family, client_for):
    parent = client_for(family.parent)
    assert _report(parent, family.student_7a).status_code == 302
    report = AbsenceReport.objects.for_school(family.school).get()
    assert (report.child, report.reported_by) == (family.student_7a, family.parent)
    assert (report.first_day, report.last_day) == (date(2026, 3, 2), date(2026, 3, 4))

    # The class's teacher and the office see it; 7b's teacher and another school do not.
    for reader in (family.teacher_7a, family.admin):
        assert "Fieber" in client_for(reader).get(reverse("parents:absences")).content.decode()
    for outsider in (family.teacher_7b, family.other_admin):
        page = client_for(outsider).get(reverse("parents:absences"))
        assert "Fieber" not in page.content.decode()
        ack = client_for(outsider).post(reverse("parents:acknowledge", args=[report.pk]))
        assert ack.status_code == 403
    for nobody in (family.student_7a, family.parent):
        ack = client_for(nobody).post(reverse("parents:acknowledge", args=[report.pk]))
        assert ack.status_code == 403

    teacher = client_for(family.teacher_7a)
    assert teacher.post(reverse("parents:acknowledge", args=[report.pk])).status_code == 302
    report.refresh_from_db()
    assert report.acknowledged_by == family.teacher_7a and report.acknowledged_at
    # Both parents see who acknowledged it.
    for who in (family.parent, family.second_parent):
        page = client_for(who).get(reverse("parents:child", args=[family.student_7a.pk]))
        assert "Bestätigt von" in page.content.decode()
        assert family.teacher_7a.get_full_name() in page.content.decode()


def test_bad_days_are_a_message_and_nothing_is_stored(family, client_for):
    parent = client_for(family.parent)
    backwards = _report(parent, family.student_7a, first="2026-03-04", last="2026-03-02")
    assert backwards.status_code == 200
    assert "letzte Tag" in backwards.content.decode()
    garbage = _report(parent, family.student_7a, first="gestern", last="")
    assert garbage.status_code == 200
    assert not AbsenceReport.objects.for_school(family.school).exists()


def test_no_report_for_someone_elses_child(family, client_for):
    response = _report(client_for(family.second_parent), family.sibling_7b)
    assert response.status_code == 403
    assert not AbsenceReport.objects.for_school(family.school).exists()
