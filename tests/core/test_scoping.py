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


def test_scoped_create_fills_in_the_school_and_refuses_another(world):
    group = Group.objects.for_school(world.school).create(name="8c", grade=8)
    assert group.school_id == world.school.pk
    same = Group.objects.for_school(world.school.pk).create(school=world.school, name="8d")
    assert same.school_id == world.school.pk
    with pytest.raises(SchoolScopeError):
        Group.objects.for_school(world.school).create(school=world.other_school, name="8e")
    with pytest.raises(SchoolScopeError):
        Group.objects.for_school(world.school).filter(grade=8).create(
            school_id=world.other_school.pk, name="8f"
        )
    assert not Group.unscoped.filter(name__in=["8e", "8f"]).exists()
