import functools

import pytest
from django.core.exceptions import PermissionDenied

from kreide.core.models import AuditEntry
from kreide.schools import events as school_events
from kreide.schools import services
from kreide.schools.models import Group, Membership


@pytest.fixture
def published():
    """Events delivered after commit, as (name, payload)."""
    seen: list[tuple[str, dict]] = []
    declared = (
        school_events.membership_changed,
        school_events.group_created,
        school_events.group_changed,
        school_events.group_active_changed,
    )
    handlers = {
        event: functools.partial(lambda name, **payload: seen.append((name, payload)), event.name)
        for event in declared
    }
    for event, handler in handlers.items():
        event.subscribe(handler)
    yield seen
    for event, handler in handlers.items():
        event.unsubscribe(handler)


def test_admin_creates_group_and_manages_people(
    client_for, world, published, django_capture_on_commit_callbacks
):
    admin = client_for(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/accounts/admin/groups/new/",
            {"name": "Chor", "kind": "workgroup", "grade": "", "subject": ""},
        )
    group = Group.objects.for_school(world.school).get(name="Chor")
    assert response["Location"] == f"/accounts/admin/groups/{group.pk}/"
    assert published == [
        ("schools.group_created", {"school_id": world.school.pk, "group_id": group.pk})
    ]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            f"/accounts/admin/groups/{group.pk}/members/",
            {"add-usernames": f"{world.student_7a.username}, {world.teacher_7b.username.upper()}"},
        )
    assert response.status_code == 302
    roles = dict(
        Membership.objects.for_school(world.school)
        .filter(group=group)
        .values_list("user_id", "role")
    )
    assert roles == {world.student_7a.pk: "member", world.teacher_7b.pk: "teacher"}
    assert published == [
        (
            "schools.membership_changed",
            {
                "school_id": world.school.pk,
                "group_id": group.pk,
                "added": sorted([world.student_7a.pk, world.teacher_7b.pk]),
                "removed": [],
                "teachers": [world.teacher_7b.pk],
            },
        )
    ]
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/accounts/admin/groups/{group.pk}/members/{world.student_7a.pk}/remove/")
    assert published[0][1]["removed"] == [world.student_7a.pk]
    page = admin.get(f"/accounts/admin/groups/{group.pk}/").content.decode()
    assert world.teacher_7b.username in page and world.student_7a.username not in page
    actions = list(
        AuditEntry.objects.for_school(world.school)
        .filter(target_id=str(group.pk))
        .values_list("action", flat=True)
    )
    assert actions.count("membership.changed") == 2 and "group.created" in actions


def test_unknown_or_foreign_usernames_are_refused(client_for, world):
    response = client_for(world.admin).post(
        f"/accounts/admin/groups/{world.class_7a.pk}/members/",
        {"add-usernames": f"gibtsnicht\n{world.other_student.username}"},
    )
    assert "Kein aktives Konto dieser Schule" in response.content.decode()
    assert not Membership.objects.for_school(world.school).filter(user=world.other_student).exists()


def test_edit_rename_clash_and_deactivate(
    client_for, world, published, django_capture_on_commit_callbacks
):
    admin = client_for(world.admin)
    url = f"/accounts/admin/groups/{world.class_7a.pk}/"
    clash = admin.post(url, {"group-name": "7B", "group-kind": "class", "group-grade": "7"})
    assert "Eine Klasse oder Gruppe mit diesem Namen gibt es bereits." in clash.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(url, {"group-name": "7c", "group-kind": "class", "group-grade": "7"})
        admin.post(url + "active/", {"active": "0"})
    world.class_7a.refresh_from_db()
    assert world.class_7a.name == "7c" and not world.class_7a.is_active
    assert [name for name, _ in published] == [
        "schools.group_changed",
        "schools.group_active_changed",
    ]
    listed = admin.get("/accounts/admin/groups/", {"status": "inactive"})
    assert list(listed.context["page"].object_list) == [world.class_7a]


def test_services_check_the_school(world):
    with pytest.raises(PermissionDenied):
        services.create_group(world.other_admin, world.school, name="X")
    with pytest.raises(PermissionDenied):
        services.add_members(world.teacher_7a, world.class_7a, [world.student_7b])
    # Users of another school are never added, even by a direct call.
    assert services.add_members(world.admin, world.class_7a, [world.other_student]) == 0
