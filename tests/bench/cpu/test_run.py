"""The idle correction of bench/cpu/run.py: the arithmetic, without a server."""

import pytest

from bench.cpu.run import (
    MAIL_PART,
    ORIGINAL,
    PARTS,
    UNITS,
    Round,
    idle_rate,
    summarize,
    table,
    without_idle,
)


def by_part(kreide: float, postgres: float, nginx: float) -> dict[str, float]:
    return dict(zip(PARTS, (kreide, postgres, nginx), strict=True))


def test_idle_rate_pools_the_windows_by_their_wall_time():
    windows = [(by_part(0.02, 0.004, 0.0), 1.0), (by_part(0.08, 0.002, 0.001), 3.0)]

    assert idle_rate(windows) == pytest.approx(by_part(0.025, 0.0015, 0.00025))


def test_without_idle_takes_the_idle_rate_times_the_wall_time_off_each_part():
    spent = by_part(0.050, 0.010, 0.0005)
    idle = by_part(0.020, 0.001, 0.001)

    corrected = without_idle(spent, 0.8, idle)

    assert corrected["kreide"] == pytest.approx(0.050 - 0.016)
    assert corrected["postgres"] == pytest.approx(0.010 - 0.0008)
    assert corrected["nginx"] == 0.0  # idle noise larger than the unit's share: nothing


def test_the_summary_keeps_raw_and_idle_corrected_figures_apart():
    rounds = [
        Round(
            argon2=0.020,
            units={"sign-in": by_part(0.030, 0.005, 0.001)},
            units_raw={"sign-in": by_part(0.036, 0.005, 0.001)},
            wall={"sign-in": 0.3},
            idle=by_part(0.020, 0.0, 0.0),
            done={"sign-in": 8},
        )
    ]

    summary = summarize(rounds)

    row = summary["units"]["sign-in"]
    assert row["total_ms"]["median"] == pytest.approx(36.0)
    assert row["raw_total_ms"]["median"] == pytest.approx(42.0)
    assert row["ratio"]["median"] == pytest.approx(1.8)
    assert row["raw_ratio"]["median"] == pytest.approx(2.1)
    assert row["wall_ms"]["median"] == pytest.approx(300.0)
    assert summary["journey_ms"]["median"] == pytest.approx(36.0)
    assert summary["raw_journey_ms"]["median"] == pytest.approx(42.0)
    assert summary["students_per_core"]["median"] == pytest.approx(600 / 0.036)


def round_of(units: dict[str, float], parts: tuple[str, ...] = PARTS) -> Round:
    def spent(value: float) -> dict[str, float]:
        return {part: value if part == "kreide" else 0.0 for part in parts}

    return Round(
        argon2=0.020,
        units={key: spent(value) for key, value in units.items()},
        units_raw={key: spent(value) for key, value in units.items()},
        wall={key: 0.1 for key in units},
        idle=spent(0.0),
        done={key: 8 for key in units},
    )


def test_added_units_stay_out_of_issue_21s_journey_and_the_inbox_is_in_it():
    summary = summarize([round_of({"sign-in": 0.030, "substitutions": 0.004, "inbox": 0.010})])

    assert summary["journey_units"] == ["sign-in", "inbox"]
    assert summary["journey_ms"]["median"] == pytest.approx(40.0)
    assert summary["with_added"]["units"] == ["sign-in", "substitutions", "inbox"]
    assert summary["with_added"]["ms"]["median"] == pytest.approx(44.0)
    lines = table(summary).splitlines()
    assert any(line.startswith("| substitution plan") and "(added)" in line for line in lines)
    assert any("journey of issue #21** (sign-in, webmail inbox)" in line for line in lines)
    assert any("(+ substitution plan)" in line for line in lines)


def test_the_journey_is_whole_without_the_inbox_only_without_mail_servers():
    journey = {key: 0.005 for key, _, part_of in UNITS if part_of == ORIGINAL and key != "inbox"}

    assert summarize([round_of(journey)])["all_units"]
    assert not summarize([round_of(journey, (*PARTS, MAIL_PART))])["all_units"]
    with_inbox = round_of({**journey, "inbox": 0.010}, (*PARTS, MAIL_PART))
    assert summarize([with_inbox])["all_units"]
