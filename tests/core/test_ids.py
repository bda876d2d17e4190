"""Ids from outside are checked in one place: kreide.core.ids."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kreide.core.ids import MAX_ID, IdConverter, parse_id, valid_ids

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None)


def _patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        else:
            assert isinstance(entry, URLPattern)
            if entry.callback.__module__.startswith("kreide."):  # not Django's admin
                yield prefix + str(entry.pattern), entry.pattern.converters


def test_every_id_in_a_url_goes_through_the_id_converter():
    patterns = list(_patterns(get_resolver()))
    unbounded = [
        route
        for route, converters in patterns
        if any(isinstance(converter, IntConverter) for converter in converters.values())
    ]
    assert unbounded == []
    assert any(
        isinstance(converter, IdConverter)
        for _route, converters in patterns
        for converter in converters.values()
    )


@FUZZ
@given(st.integers(min_value=0, max_value=MAX_ID))
def test_every_database_id_passes_as_number_and_as_text(number):
    assert parse_id(number) == number
    assert parse_id(str(number)) == number
    assert IdConverter().to_python(str(number)) == number


@FUZZ
@given(
    st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=MAX_ID + 1),
        st.text().filter(lambda text: not (text.strip().isascii() and text.strip().isdigit())),
        st.floats(),
        st.booleans(),
        st.none(),
        st.lists(st.integers()),
    )
)
@example(2**63)
@example("9" * 40)
@example("١٢")  # Arabic-Indic digits: str.isdigit() says yes, ids say no
def test_anything_else_is_a_value_error(value):
    with pytest.raises(ValueError):
        parse_id(value)
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_ID:
        with pytest.raises(ValueError):
            parse_id(str(value))


def test_valid_ids_keeps_only_ids():
    assert valid_ids(["3", "x", str(2**63), "-1", 7, "12"]) == {3, 7, 12}


@pytest.mark.django_db
@pytest.mark.parametrize("number", [2**63, 10**30])
def test_an_id_beyond_64_bits_in_a_url_is_a_404(client_for, world, number):
    client = client_for(world.student_7a)
    for url in (f"/messages/rooms/{number}/", f"/api/v1/tasks/{number}", f"/tasks/{number}/"):
        assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_queries_find_nothing_for_ids_beyond_64_bits(world):
    from kreide.schools.models import Membership
    from kreide.tasks.models import Task

    huge = 2**64
    memberships = Membership.objects.for_school(world.school)
    assert list(memberships.filter(group_id=huge)) == []
    assert list(memberships.filter(group_id__in=[huge, -huge])) == []
    assert memberships.filter(group_id__in=[huge, world.class_7a.pk]).count() == 3
    assert memberships.exclude(group_id=huge).count() == memberships.count()
    assert list(Task.objects.for_school(world.school).filter(pk__in=[huge])) == []
