import pytest

from kreide.accounts.models import User
from kreide.parents.models import ParentLink


@pytest.fixture
def family(world, make_user):
    """A parent of student_7a and of a sibling in 7b; a second parent of student_7a."""
    world.sibling_7b = make_user(world.school, groups=(world.class_7b,), first_name="Geschwister")
    world.parent = make_user(world.school, User.Role.PARENT, first_name="Mutter")
    world.second_parent = make_user(world.school, User.Role.PARENT, first_name="Vater")
    for parent, child in (
        (world.parent, world.student_7a),
        (world.parent, world.sibling_7b),
        (world.second_parent, world.student_7a),
    ):
        ParentLink.unscoped.create(school=world.school, parent=parent, child=child)
    return world
