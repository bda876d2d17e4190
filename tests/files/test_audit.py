"""Security-relevant file writes go through services and leave an audit entry the school
office reads: shares, public internet links, write grants, quotas and app passwords."""

import pytest
from django.urls import reverse

from kreide.core.models import AuditEntry
from kreide.files.models import AppPassword, PublicLink, Share

pytestmark = pytest.mark.django_db


def _actions(files) -> list[str]:
    return list(
        AuditEntry.objects.for_school(files.school).order_by("pk").values_list("action", flat=True)
    )


def test_links_shares_grants_quotas_and_app_passwords_are_audited(files, client_for):
    teacher, student, admin = (
        client_for(files.teacher_7a),
        client_for(files.student_7a),
        client_for(files.admin),
    )
    teacher.post(reverse("files:create_link", args=[files.class_file.pk]), {"days": 7})
    link = PublicLink.unscoped.get()
    teacher.post(reverse("files:revoke_link", args=[link.pk]))
    student.post(
        reverse("files:share", args=[files.private_file.pk]),
        {"username": files.classmate_7a.username, "can_write": ""},
    )
    student.post(reverse("files:unshare", args=[Share.unscoped.get().pk]))
    teacher.post(
        reverse("files:writers", args=[files.class_7a.pk]), {"writer": [files.student_7a.pk]}
    )
    admin.post(reverse("files:quotas"), {"user_quota_mb": 1, "group_quota_mb": 2})
    admin.post(
        reverse("files:quotas"),
        {"override": "1", "username": files.student_7a.username, "quota_mb": "5"},
    )
    student.post(reverse("files:app_passwords"), {"name": "Laptop"})
    student.post(reverse("files:revoke_app_password", args=[AppPassword.unscoped.get().pk]))
    assert _actions(files) == [
        "files.link_created",
        "files.link_revoked",
        "files.shared",
        "files.unshared",
        "files.writers_changed",
        "files.quota_changed",
        "files.quota_changed",
        "files.app_password_created",
        "files.app_password_revoked",
    ]
    assert not PublicLink.unscoped.exists() and not AppPassword.unscoped.exists()
    entries = AuditEntry.objects.for_school(files.school)
    assert entries.get(action="files.app_password_created").details == {"name": "Laptop"}
    assert "geheim" not in str(list(entries.values_list("details", flat=True)))
    log = admin.get("/accounts/admin/audit/").content.decode()
    assert "Öffentlicher Internet-Link erstellt" in log and "App-Passwort erstellt" in log


def test_refused_writes_leave_nothing(files, client_for):
    stranger = client_for(files.student_7b)
    stranger.post(reverse("files:create_link", args=[files.class_file.pk]), {"days": 7})
    stranger.post(
        reverse("files:writers", args=[files.class_7a.pk]), {"writer": [files.student_7b.pk]}
    )
    client_for(files.teacher_7a).post(
        reverse("files:quotas"), {"user_quota_mb": 1, "group_quota_mb": 2}
    )
    files.school.public_links_allowed = False
    files.school.save()
    response = client_for(files.teacher_7a).post(
        reverse("files:create_link", args=[files.class_file.pk]), {"days": 7}, follow=True
    )
    assert "öffentliche Links abgeschaltet" in response.content.decode()
    assert _actions(files) == [] and not PublicLink.unscoped.exists()
