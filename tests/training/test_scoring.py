"""The per-video alarm simulation and falldata's scoring protocol, and the keypoint reference's hold rule."""

from __future__ import annotations

import numpy as np

from fallwatch.training.references import held_series
from fallwatch.training.scoring import (
    Outcome,
    Rule,
    Series,
    VideoScores,
    choose_rule,
    first_alarm,
    judge_alarms,
    score_videos,
    summarize,
    tally,
)


def _series(scores: list[float], start: float = 0.0, step: float = 0.4) -> Series:
    return Series(start + step * np.arange(len(scores)), np.array(scores, dtype=float))


def _video(name: str, scores: list[float], fall_start: float | None) -> VideoScores:
    return VideoScores(name, "src", fall_start is not None, fall_start, 0.4 * len(scores), (_series(scores),))


def test_first_alarm_needs_consecutive_windows_of_one_track() -> None:
    a = _series([0.9, 0.1, 0.9, 0.9, 0.9])
    b = _series([0.9, 0.9, 0.1, 0.1, 0.1], start=0.1)
    assert first_alarm([a, b], Rule(0.5, 2)) == b.pts[1]
    assert first_alarm([a, b], Rule(0.5, 3)) == a.pts[4]
    assert first_alarm([a, b], Rule(0.95, 1)) is None


def test_protocol_early_caught_missed_and_false_alarms() -> None:
    videos = [
        _video("caught", [0.0] * 10 + [0.9] * 3, fall_start=4.0),  # alarm at 4.4 s
        _video("early", [0.9] * 3 + [0.0] * 10, fall_start=4.0),  # alarm at 0.8 s < 3.0 s
        _video("tolerated", [0.0] * 7 + [0.9] * 3, fall_start=4.0),  # alarm at 3.2 s >= 3.0 s
        _video("missed", [0.0] * 13, fall_start=4.0),
        _video("quiet", [0.2] * 13, fall_start=None),
        _video("false", [0.2] * 5 + [0.9] * 2, fall_start=None),
    ]
    outcomes = {o.clip: o for o in score_videos(videos, Rule(0.5, 2))}
    assert [outcomes[k].result for k in ("caught", "early", "tolerated", "missed", "quiet", "false")] == [
        "caught", "early", "caught", "missed", "quiet", "false_alarm",
    ]  # fmt: skip
    assert outcomes["caught"].latency_s == 0.4
    assert outcomes["tolerated"].latency_s == -0.8
    summary = summarize(list(outcomes.values()), adl_hours=0.5)
    assert (summary["falls_caught"], summary["falls"], summary["adl_quiet"], summary["adl"]) == (2, 4, 1, 2)
    assert summary["sensitivity"] == 0.5 and summary["specificity"] == 0.5
    assert summary["false_alarms_per_hour"] == 2.0


def test_choose_rule_prefers_the_stricter_of_equal_rules() -> None:
    videos = [_video("f", [0.0] * 10 + [0.97] * 5, 4.0), _video("a", [0.6] * 3 + [0.0] * 5, None)]
    rule = choose_rule(videos, (0.5, 0.7, 0.9), (1, 2, 3))
    assert rule == Rule(0.9, 3)  # every rule above 0.6 is perfect here; the strictest is kept


def test_held_series_needs_the_condition_for_the_whole_hold() -> None:
    pts = np.arange(0, 3.0, 0.1)
    condition = (pts >= 1.0) & (pts < 1.8) | (pts >= 2.0)
    held = held_series(pts, condition, hold_s=0.5)
    on = pts[held.scores > 0]
    assert np.isclose(on[0], 1.5) and not np.any((on > 1.75) & (on < 2.45))


def test_empty_samples_have_no_rates_rather_than_zero() -> None:
    """`fallwatch eval` and cross-validation share this summary: nothing to count is None, not 0.0."""
    summary = summarize([], adl_hours=0.0)
    assert summary["sensitivity"] is None and summary["specificity"] is None
    assert summary["precision"] is None and summary["f1"] is None
    assert summary["false_alarms_per_hour"] is None and summary["falls"] == 0


def test_every_alarm_of_a_daily_activity_video_counts_per_hour_but_only_the_first_decides() -> None:
    outcome = judge_alarms("adl.mp4", "src", False, None, [40.0, 12.0, 70.0])
    assert (outcome.result, outcome.alarm_s, outcome.alarms) == ("false_alarm", 12.0, 3)
    assert summarize([outcome], adl_hours=0.5)["false_alarms_per_hour"] == 6.0
    fall = judge_alarms("fall.mp4", "src", True, 5.0, [6.5, 30.0])
    assert (fall.result, fall.latency_s, fall.detected) == ("caught", 1.5, True)


def test_tally_counts_falls_caught_and_videos_quiet_per_key() -> None:
    outcomes = [
        Outcome("a/1.mp4", "a", True, 3.0, "caught", 0.5),
        Outcome("a/2.mp4", "a", True, None, "missed", None),
        Outcome("a/3.mp4", "a", True, 1.0, "early", None),
        Outcome("b/1.mp4", "b", False, None, "quiet", None),
        Outcome("b/2.mp4", "b", False, 2.0, "false_alarm", None),
    ]
    assert tally(outcomes, lambda o: o.source) == {
        "a": {"falls_caught": 1, "falls": 3, "adl_quiet": 0, "adl": 0},
        "b": {"falls_caught": 0, "falls": 0, "adl_quiet": 1, "adl": 2},
    }
    assert list(tally(outcomes, lambda o: o.clip)) == sorted(o.clip for o in outcomes)
