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


def test_parents_and_class_questions_leave_a_deactivated_class_out(
    family, make_user, make_group, django_assert_num_queries
):
    """The helpers news and notifications ask: each one query (two for class teachers),
    and a deactivated class counts for none of them."""
    from kreide.accounts.models import User
    from kreide.schools import access
    from kreide.schools.models import Group
    from kreide.schools.services import set_group_active

    club = make_group(family.school, "Chemie-AG", kind=Group.Kind.WORKGROUP, grade=None)
    club.memberships.create(school=family.school, user=family.student_7a, role="member")
    club.memberships.create(school=family.school, user=family.teacher_7b, role="teacher")
    classes = [family.class_7a.pk, family.class_7b.pk]
    with django_assert_num_queries(1):
        assert access.children_group_ids(family.parent) == set(classes) | {club.pk}
    with django_assert_num_queries(1):
        assert access.children_group_ids(family.parent, Group.Kind.CLASS) == set(classes)
    with django_assert_num_queries(1):
        assert list(access.children_in_groups(family.parent, [family.class_7b.pk])) == [
            family.sibling_7b
        ]
    with django_assert_num_queries(1):
        assert set(
            User.objects.filter(pk__in=access.parents_of_groups(family.school, classes))
        ) == {family.parent, family.second_parent}
    with django_assert_num_queries(1):
        found = access.parents_by_child(family.school, [family.student_7a.pk])
    assert set(found[family.student_7a.pk]) == {family.parent, family.second_parent}
    with django_assert_num_queries(1):
        rows = access.members_in_order(family.school, classes)
    assert {(child, group) for child, group in rows} == {
        (family.student_7a, family.class_7a.pk),
        (family.classmate_7a, family.class_7a.pk),
        (family.student_7b, family.class_7b.pk),
        (family.sibling_7b, family.class_7b.pk),
    }
    with django_assert_num_queries(2):  # the club's teacher is no class teacher
        assert access.class_teacher_ids(family.school, family.student_7a) == {family.teacher_7a.pk}
    students = access.members_by_group(family.school, [club.pk], account_role=User.Role.STUDENT)
    assert students == {club.pk: {family.student_7a.pk}}

    set_group_active(family.admin, family.class_7a, False)
    assert access.children_group_ids(family.parent) == {family.class_7b.pk, club.pk}
    assert list(access.children_in_groups(family.parent, [family.class_7a.pk])) == []
    assert list(access.parents_of_groups(family.school, [family.class_7a.pk])) == []
    assert {child for child, _group in access.members_in_order(family.school, classes)} == {
        family.student_7b,
        family.sibling_7b,
    }
    assert access.class_teacher_ids(family.school, family.student_7a) == set()
    assert access.members_by_group(family.school, [family.class_7a.pk]) == {}
