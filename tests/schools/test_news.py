"""The school office posts and deletes school news in the web pages."""

import pytest
from django.core.exceptions import PermissionDenied

from kreide.core.models import AuditEntry
from kreide.schools import services
from kreide.schools.models import Announcement

pytestmark = pytest.mark.django_db


def test_admin_posts_news_everyone_at_the_school_sees_it(
    world, client_for, django_capture_on_commit_callbacks
):
    admin = client_for(world.admin)
    assert 'href="/accounts/admin/news/"' in admin.get("/accounts/admin/users/").content.decode()
    empty = admin.post("/accounts/admin/news/", {"title": "", "body": "x"})
    assert empty.status_code == 200 and "Dieses Feld ist zwingend erforderlich." in (
        empty.content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        posted = admin.post(
            "/accounts/admin/news/", {"title": "Wandertag am Freitag", "body": "Treffpunkt 8 Uhr"}
        )
    assert posted.status_code == 302
    assert "Wandertag am Freitag" in client_for(world.student_7a).get("/").content.decode()
    assert "Wandertag" not in client_for(world.other_student).get("/").content.decode()
    news = Announcement.objects.for_school(world.school).get()
    assert news.author == world.admin
    assert AuditEntry.objects.for_school(world.school).filter(action="news.posted").exists()

    # Deleting asks first, then removes it from the overview.
    confirm = admin.get(f"/accounts/admin/news/{news.pk}/delete/").content.decode()
    assert "Nachricht löschen?" in confirm and "Wandertag am Freitag" in confirm
    assert Announcement.objects.for_school(world.school).exists()
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/accounts/admin/news/{news.pk}/delete/")
    assert not Announcement.objects.for_school(world.school).exists()
    assert "Wandertag" not in client_for(world.student_7a).get("/").content.decode()


def test_only_the_schools_admins_post_news(world, client_for):
    assert client_for(world.teacher_7a).get("/accounts/admin/news/").status_code == 403
    with pytest.raises(PermissionDenied):
        services.post_announcement(world.teacher_7a, title="Hallo")
    services.post_announcement(world.admin, title="Hallo")
    news = Announcement.objects.for_school(world.school).get()
    other = client_for(world.other_admin)
    assert other.post(f"/accounts/admin/news/{news.pk}/delete/").status_code == 404
    assert Announcement.objects.for_school(world.school).exists()
