"""The per-video alarm simulation and falldata's scoring protocol, and the keypoint reference's hold rule."""

from __future__ import annotations

import numpy as np

from fallwatch.training.references import held_series
from fallwatch.training.scoring import (
    Rule,
    Series,
    VideoScores,
    choose_rule,
    first_alarm,
    score_videos,
    summarize,
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
