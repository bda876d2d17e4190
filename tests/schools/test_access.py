"""The user's memberships are loaded once per request and shared by the dashboard's
sections; nothing of them outlives the request."""

import pytest

from kreide.schools.access import memberships_of, request_group_ids
from kreide.schools.dashboard import my_groups

pytestmark = pytest.mark.django_db


def test_one_query_per_request_shared_by_every_caller(
    rf, world, make_group, django_assert_num_queries
):
    course = make_group(world.school, "Bio-AG", kind="workgroup", grade=None)
    course.memberships.create(school=world.school, user=world.student_7a, role="member")
    request = rf.get("/")
    request.user = world.student_7a
    with django_assert_num_queries(1):
        assert {m.name for m in memberships_of(request)} == {"7a", "Bio-AG"}
        assert sorted(request_group_ids(request)) == sorted([world.class_7a.pk, course.pk])
        assert request_group_ids(request, "teacher") == []
        names = [(m.name, m.get_kind_display()) for m in my_groups(request)["memberships"]]
    assert ("Bio-AG", "AG") in names and ("7a", "Klasse") in names
    # A new request loads them anew.
    course.is_active = False
    course.save()
    again = rf.get("/")
    again.user = world.student_7a
    assert [m.name for m in my_groups(again)["memberships"]] == ["7a"]


def test_anonymous_and_schoolless_users_have_none(rf, world, make_user):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()
    assert memberships_of(request) == []
    request.user = make_user(None, "student")
    assert memberships_of(request) == []
