"""A school admin shows a disruption notice to their own school, and resolves it."""

import pytest

from kreide.core.models import AuditEntry
from kreide.status.models import Incident

pytestmark = pytest.mark.django_db


def test_school_notice_is_a_banner_for_that_school_only(
    world, client_for, client, django_capture_on_commit_callbacks
):
    admin = client_for(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        shown = admin.post(
            "/accounts/admin/incidents/",
            {"text": "Heizung ausgefallen: Unterricht endet um 11:30.", "level": "warning"},
        )
    assert shown.status_code == 302
    text = "Heizung ausgefallen"
    assert text in client_for(world.student_7a).get("/").content.decode()
    assert text in client_for(world.teacher_7b).get("/tasks/").content.decode()
    assert text not in client_for(world.other_student).get("/").content.decode()
    assert text not in client.get("/status").content.decode()  # not the public page
    note = Incident.objects.get()
    assert note.school == world.school
    assert AuditEntry.objects.for_school(world.school).filter(action="incident.opened").exists()

    # Another school's admin cannot resolve it; this school's admin confirms, then it is gone.
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world.other_admin).post(f"/accounts/admin/incidents/{note.pk}/resolve/")
    assert Incident.objects.get().ended_at is None
    confirm = admin.get(f"/accounts/admin/incidents/{note.pk}/resolve/").content.decode()
    assert "Hinweis aufheben?" in confirm
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/accounts/admin/incidents/{note.pk}/resolve/")
    assert Incident.objects.get().ended_at is not None
    assert text not in client_for(world.student_7a).get("/").content.decode()


def test_only_school_admins_open_the_notices_page(world, client_for):
    assert client_for(world.teacher_7a).get("/accounts/admin/incidents/").status_code == 403
    refused = client_for(world.admin).post("/accounts/admin/incidents/", {"text": " "})
    assert refused.status_code == 200 and not Incident.objects.exists()
