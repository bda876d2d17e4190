"""One JSON parser for every body and frame from outside: kreide.core.jsonbody."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kreide.core import jsonbody

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@FUZZ
@given(VALUES)
def test_json_within_the_depth_limit_round_trips(value):
    assert jsonbody.loads(json.dumps(value)) == value


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
@example(_nested(100_000).encode())
@example(b'{"a": NaN}')
@example(b"[Infinity]")
@example(b"\xff\xfe{}")
@example(b"1" * 5000)
def test_any_bytes_are_a_value_or_a_json_body_error(data):
    try:
        value = jsonbody.loads(data)
    except jsonbody.JSONBodyError:
        return  # the only way to fail
    # What passes can be sent back out as standard JSON.
    assert jsonbody.loads(json.dumps(value, allow_nan=False)) == value


@pytest.mark.parametrize("depth", [jsonbody.MAX_DEPTH + 1, 900, 100_000])
def test_nesting_past_the_limit_is_refused(depth):
    with pytest.raises(jsonbody.JSONBodyError):
        jsonbody.loads(_nested(depth))
    with pytest.raises(jsonbody.JSONBodyError):
        jsonbody.loads('{"a":' * depth + "1" + "}" * depth)


def test_nesting_at_the_limit_is_accepted():
    assert jsonbody.loads(_nested(jsonbody.MAX_DEPTH)) is not None


@pytest.mark.parametrize("data", [b"", b"  ", b"{}"])
def test_an_empty_body_is_an_empty_object(data):
    assert jsonbody.loads_object(data) == {}


@pytest.mark.parametrize("data", [b"[]", b"1", b'"text"', b"null"])
def test_a_body_that_is_not_an_object_is_refused(data):
    with pytest.raises(jsonbody.JSONBodyError):
        jsonbody.loads_object(data)
