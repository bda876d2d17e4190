"""A new account's own folder is created with the account, not on its first visit."""

import pytest

from kreide.accounts import importing
from kreide.accounts import services as accounts
from kreide.files import services
from kreide.files.models import Node, Space

pytestmark = pytest.mark.django_db


def _own_roots(school, users) -> dict[int, str]:
    """{user id: their space's root path} of those of `users` that have a space."""
    return dict(
        Node.objects.for_school(school)
        .filter(space__user__in=users, parent=None)
        .values_list("space__user_id", "path")
    )


def test_an_account_made_by_the_office_has_its_folder_at_once(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user, _initial = accounts.create_user(
            world.admin,
            world.school,
            username="neu.student",
            first_name="Neu",
            last_name="Student",
            role="student",
        )
    space = Space.objects.for_school(world.school).get(user=user)
    assert _own_roots(world.school, [user]) == {user.pk: f"/{services.root_of(space).pk}/"}


def test_imported_accounts_have_their_folders_and_updated_ones_are_left(
    world, django_capture_on_commit_callbacks
):
    services.personal_space(world.student_7a)
    text = (
        "username;first_name;last_name;role;classes\n"
        f"{world.student_7a.username};{world.student_7a.first_name};Neu;student;7a\n"
        "anna.becker;Anna;Becker;student;7a\n"
        "xaver.lehr;Xaver;Lehr;teacher;7a\n"
    )
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = accounts.import_users(
            world.admin, world.school, importing.parse(text.encode(), world.school)
        )
    assert callbacks
    created = result.created
    assert sorted(u.username for u in created) == ["anna.becker", "xaver.lehr"]
    roots = _own_roots(world.school, [*created, world.student_7a])
    assert set(roots) == {world.student_7a.pk, *(u.pk for u in created)}
    assert Space.objects.for_school(world.school).filter(user=world.student_7a).count() == 1
    for user in created:
        root = services.root_of(services.personal_space(user))
        assert roots[user.pk] == f"/{root.pk}/"


def test_provisioning_twice_leaves_one_space_each(world):
    users = [world.student_7a.pk, world.student_7b.pk]
    services.provision_personal_spaces(world.school.pk, users)
    first = set(Space.objects.for_school(world.school).values_list("pk", "user_id"))
    services.provision_personal_spaces(world.school.pk, [*users, world.student_7a.pk])
    assert set(Space.objects.for_school(world.school).values_list("pk", "user_id")) == first
    assert {user for _pk, user in first} >= set(users)
