"""The arithmetic of bench/login/per_core.py's report, without a server."""

import pytest

from bench.login.per_core import Round, percentile, summarize, verdict


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]

    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0, 3.0], 1.0) == 7.0
    assert percentile([], 0.95) == 0.0


def rounds() -> list[Round]:
    return [
        Round(
            wall=10.0,
            sign_ins=400,
            refusals={"503": 30},
            cpu={"kreide": 9.0, "postgres": 1.0, "nginx": 0.5},
            argon2=[0.020, 0.021, 0.019],
            page_ms=[10.0, 20.0, 30.0],
        ),
        Round(
            wall=10.0,
            sign_ins=300,
            refusals={"503": 10, "429": 1},
            cpu={"kreide": 8.0, "postgres": 1.0, "nginx": 0.5},
            argon2=[0.030, 0.030, 0.030],
            page_ms=[40.0],
            page_errors=1,
        ),
    ]


def test_the_ratio_is_the_sign_in_rate_times_one_verification_of_the_same_run():
    summary = summarize(rounds())

    assert summary["sign_ins_per_s"] == pytest.approx(35.0)
    # The median of all six verifications: 0.021 and 0.030 -> (0.021 + 0.030) / 2.
    assert summary["argon2_ms"] == pytest.approx(25.5)
    assert summary["bound_per_s"] == pytest.approx(1 / 0.0255)
    assert summary["ratio"] == pytest.approx(35.0 * 0.0255)
    # Per round with its own verifications: 40/s x 20 ms and 30/s x 30 ms.
    assert summary["ratio_rounds"]["min"] == pytest.approx(0.80)
    assert summary["ratio_rounds"]["max"] == pytest.approx(0.90)


def test_the_core_counts_the_server_and_nginx_and_postgres_stays_apart():
    summary = summarize(rounds())

    assert summary["core_utilisation"] == pytest.approx(18.0 / 20.0)
    assert summary["postgres_utilisation"] == pytest.approx(0.1)
    assert summary["cpu_ms_per_sign_in"]["kreide"] == pytest.approx(17000 / 700)
    assert summary["ratio_per_cpu_second"] == pytest.approx(700 / 20.0 * 0.0255)


def test_refusals_add_up_by_status_and_pages_pool_over_the_rounds():
    summary = summarize(rounds())

    assert summary["refusals"] == {"503": 40, "429": 1}
    assert summary["pages"] == 4
    assert summary["page_p50_ms"] == 20.0
    assert summary["page_p99_ms"] == 40.0
    assert summary["page_errors"] == 1
    assert "starved" in verdict(summary) and "not starved" not in verdict(summary)


def test_the_verdict_needs_the_ratio_and_unstarved_pages():
    summary = summarize(rounds()[:1])

    assert verdict(summary) == (
        "ratio 0.80 < 0.90; signed-in pages not starved (p95 30 ms, 0 errors; "
        "the goal: p95 < 200 ms, 0 errors)"
    )
