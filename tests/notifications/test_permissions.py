"""The permission matrix for notification settings and push subscriptions: every role
manages only their own; quiet hours only a school's admins for their school."""

import pytest
from django.urls import reverse

from kreide.accounts.models import User
from kreide.notifications import settings_services
from kreide.notifications.models import Preferences, QuietHours
from kreide.parents.models import ParentLink

pytestmark = pytest.mark.django_db

PAGES = ["notifications:index", "notifications:settings", "notifications:count"]
ROLES = ["student_7a", "teacher_7a", "admin", "parent", "student_in_deactivated", "other_student"]


@pytest.fixture
def people(world, make_user, deactivate):
    world.parent = make_user(world.school, User.Role.PARENT)
    ParentLink.unscoped.create(school=world.school, parent=world.parent, child=world.student_7a)
    deactivate(world.class_7b)
    world.student_in_deactivated = world.student_7b
    return world


@pytest.mark.parametrize("who", ROLES)
def test_everyone_who_takes_part_has_their_own_settings(people, client_for, who):
    user = getattr(people, who)
    client = client_for(user)
    for name in PAGES:
        assert client.get(reverse(name)).status_code == 200, name
    client.post(reverse("notifications:settings"), {"me-live": "on", "me-digest": ""})
    saved = Preferences.objects.for_school(user.school_id).get(user=user)
    assert saved.live and not saved.push
    # Nobody else's settings changed.
    assert Preferences.unscoped.count() == 1


@pytest.mark.parametrize("who", ROLES[:2] + ROLES[3:])
def test_only_admins_set_quiet_hours(people, client_for, who):
    client_for(getattr(people, who)).post(
        reverse("notifications:settings"),
        {"quiet": "1", "quiet-starts": "18:00", "quiet-ends": "08:00", "quiet-for_everyone": "on"},
    )
    assert not QuietHours.unscoped.exists()
    page = client_for(getattr(people, who)).get(reverse("notifications:settings"))
    assert "Ruhezeit der Schule" not in page.content.decode()


def test_an_admin_sets_their_own_schools_quiet_hours_only(people, client_for):
    client_for(people.other_admin).post(
        reverse("notifications:settings"),
        {"quiet": "1", "quiet-starts": "18:00", "quiet-ends": "08:00", "quiet-for_students": "on"},
    )
    assert settings_services.quiet_hours_of(people.other_school.pk).starts.hour == 18
    assert settings_services.quiet_hours_of(people.school.pk).starts.hour == 20  # default


def test_signed_out_nothing(client):
    for name in PAGES[:2] + ["notifications:push_subscribe", "notifications:push_unsubscribe"]:
        answer = client.post(reverse(name)) if "push" in name else client.get(reverse(name))
        assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    assert client.get(reverse("notifications:count")).status_code == 401
    assert client.get(reverse("notifications:service_worker")).status_code == 200
