"""The soak report's arithmetic: RSS growth after warm-up, latency drift, failed calls, /proc readings."""

from __future__ import annotations

import os

import pytest

from eval.soak import CallRun, Sample, proc_stats, summarize


def _run(started: float, ms: list[float], errors: list[str] | None = None, call: str = "a") -> CallRun:
    return CallRun(started=started, call_id=f"c{started}", call=call, suggest_ms=ms, summary_ms=20.0,
                   errors=errors or [], seconds=60.0)


def test_growth_is_measured_from_the_end_of_warm_up() -> None:
    # model loading and the first calls raise RSS from 100 to 1000 MB; after that it creeps to 1050 MB
    samples = [Sample(t, 100.0 + 7 * t if t < 120 else 1000.0 + (t - 120) / 20, 40, 20) for t in range(0, 1200, 10)]
    # two calls in the set; the second first finishes at 120 s, which ends the warm-up
    runs = [_run(t, [800.0], call="a" if t != 60 else "b") for t in range(0, 1200, 60)]
    report = summarize(samples, runs, minutes=20, concurrency=2)
    assert report.warm_up_s == 120
    assert 1000 <= report.rss_start_mb <= 1010
    assert report.rss_end_mb > 1045
    assert 3.5 < report.rss_growth_pct < 5.5, report.rss_growth_pct
    assert report.rss_slope_mb_per_h == pytest.approx(180.0, rel=0.01)  # 1 MB per 20 s
    assert report.calls_done == 20 and report.calls_failed == 0


def test_latency_drift_compares_first_and_last_thirds_of_good_calls() -> None:
    samples = [Sample(t, 500.0, 40, 20) for t in range(0, 600, 10)]
    runs = [_run(0, [1000.0]), _run(60, [1000.0]), _run(120, [1200.0]), _run(180, [1500.0]),
            _run(240, [1500.0], ["no summary"]), _run(300, [1500.0])]
    report = summarize(samples, runs, minutes=10, concurrency=1)
    assert report.calls_failed == 1 and report.calls_done == 5
    assert report.suggest_p50_first_ms == 1000.0 and report.suggest_p50_last_ms == 1500.0
    assert report.suggest_drift_pct == pytest.approx(50.0)
    assert report.rss_growth_pct == 0.0


def test_proc_stats_reads_this_process() -> None:
    rss, threads, fds = proc_stats(os.getpid())
    assert rss > 10 and threads >= 1 and fds >= 3
