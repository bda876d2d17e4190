import pytest

from kreide.core.scoping import SchoolScopeError
from kreide.schools.models import Group


def test_unscoped_query_is_an_error(world):
    with pytest.raises(SchoolScopeError):
        list(Group.objects.all())
    with pytest.raises(SchoolScopeError):
        Group.objects.filter(name="7a")
    with pytest.raises(SchoolScopeError):
        Group.objects.for_school(None)


def test_scoped_query_sees_only_its_school(world):
    names = set(Group.objects.for_school(world.school).values_list("name", flat=True))
    assert names == {"7a", "7b"}
    other = list(Group.objects.for_school(world.other_school))
    assert other == [world.other_class]
