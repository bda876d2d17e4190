"""Random strings in one draw: the characters asked for, each about equally often."""

from collections import Counter

import pytest

from kreide.core.randomness import random_string


def test_random_strings_use_every_allowed_character_about_equally():
    allowed = "abc0123456789"  # 13: 256 is no multiple of it, so some bytes are dropped
    drawn = "".join(random_string(40, allowed) for _ in range(2_000))
    counts = Counter(drawn)
    assert set(counts) == set(allowed)
    expected = len(drawn) / len(allowed)  # 6,154; one standard deviation is ~75
    assert all(abs(count - expected) < 600 for count in counts.values())
    assert len({random_string(32, allowed) for _ in range(100)}) == 100


def test_a_random_string_is_as_long_as_asked_even_from_one_character():
    assert random_string(300, "x") == "x" * 300
    with pytest.raises(ValueError):
        random_string(8, "äb")
