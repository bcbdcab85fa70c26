"""Per-video scoring under falldata's protocol: the one definition `fallwatch eval` and cross-validation share.

A detector's output for one video is a set of score series, one per track (or one for the whole frame): the
stream time of each judgement and its score. The video alarms at the first time any series stays at or above
`threshold` for `consecutive` judgements in a row. A fall video is caught when that first alarm comes at or
after `fall_start_s - 1 s` (latency: alarm time minus `fall_start_s`); an earlier first alarm counts as a false
alarm and a miss. A daily-activity video with any alarm is a false alarm. `fallwatch eval` judges the times the
alert engine opened incidents; cross-validation simulates an alarm rule on score series (`first_alarm`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EARLY_TOLERANCE_S = 1.0


@dataclass(frozen=True, slots=True)
class Series:
    pts: npt.NDArray[np.float64]  # (n,) stream seconds of each judgement, increasing
    scores: npt.NDArray[np.float64]  # (n,)


@dataclass(frozen=True, slots=True)
class VideoScores:
    clip: str
    source: str
    is_fall: bool
    fall_start_s: float | None
    duration_s: float
    series: tuple[Series, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    clip: str
    source: str
    is_fall: bool
    alarm_s: float | None
    result: str  # caught, missed, early (fall videos); quiet, false_alarm (daily activity)
    latency_s: float | None
    alarms: int = (
        0  # every alarm the video raised, when known (a rule simulated on scores knows only the first)
    )

    @property
    def detected(self) -> bool:
        """Caught (a fall) or alarmed (daily activity): what a reviewer would count as the method's verdict."""
        return self.result in ("caught", "false_alarm")

    @property
    def alarm_count(self) -> int:
        return max(self.alarms, 0 if self.alarm_s is None else 1)


@dataclass(frozen=True, slots=True)
class Rule:
    threshold: float
    consecutive: int


def first_alarm(series: Iterable[Series], rule: Rule) -> float | None:
    """The earliest time any series has `rule.consecutive` judgements in a row at or above the threshold."""
    earliest: float | None = None
    for one in series:
        run = 0
        for t, score in zip(one.pts, one.scores, strict=True):
            run = run + 1 if score >= rule.threshold else 0
            if run >= rule.consecutive:
                if earliest is None or t < earliest:
                    earliest = float(t)
                break
    return earliest


def judge(video: VideoScores, alarm_s: float | None) -> Outcome:
    return judge_alarms(
        video.clip, video.source, video.is_fall, video.fall_start_s, [] if alarm_s is None else [alarm_s]
    )


def judge_alarms(
    clip: str, source: str, is_fall: bool, fall_start_s: float | None, alarms: Sequence[float]
) -> Outcome:
    """The outcome of one video from every alarm it raised (only the first decides; all are counted)."""
    alarm_s = min(alarms) if alarms else None
    if not is_fall:
        result = "quiet" if alarm_s is None else "false_alarm"
        return Outcome(clip, source, False, alarm_s, result, None, len(alarms))
    start = fall_start_s if fall_start_s is not None else 0.0
    if alarm_s is None:
        return Outcome(clip, source, True, None, "missed", None)
    if alarm_s < start - EARLY_TOLERANCE_S:
        return Outcome(clip, source, True, alarm_s, "early", None, len(alarms))
    return Outcome(clip, source, True, alarm_s, "caught", round(alarm_s - start, 2), len(alarms))


def score_videos(videos: Sequence[VideoScores], rule: Rule) -> list[Outcome]:
    return [judge(v, first_alarm(v.series, rule)) for v in videos]


def summarize(outcomes: Sequence[Outcome], adl_hours: float) -> dict[str, float | int | None]:
    """Counts, rates, latency percentiles and alarms per hour of daily activity.

    A rate with nothing to count (no fall videos, no daily-activity hours) is None, never 0: an empty sample
    proves nothing either way.
    """
    falls = [o for o in outcomes if o.is_fall]
    adls = [o for o in outcomes if not o.is_fall]
    caught = [o for o in falls if o.result == "caught"]
    quiet = [o for o in adls if o.result == "quiet"]
    latencies = np.array([o.latency_s for o in caught if o.latency_s is not None], dtype=float)
    tp, fp = len(caught), len(adls) - len(quiet)
    precision = tp / (tp + fp) if tp + fp else None
    sensitivity = tp / len(falls) if falls else None
    both = precision is not None and sensitivity is not None and precision + sensitivity > 0
    return {
        "falls_caught": tp,
        "falls": len(falls),
        "falls_early": sum(o.result == "early" for o in falls),
        "adl_quiet": len(quiet),
        "adl": len(adls),
        "tp": tp,
        "fn": len(falls) - tp,
        "fp": fp,
        "tn": len(quiet),
        "sensitivity": _rounded(sensitivity),
        "specificity": _rounded(len(quiet) / len(adls) if adls else None),
        "precision": _rounded(precision),
        "f1": _rounded(2 * precision * sensitivity / (precision + sensitivity) if both else None),  # type: ignore[operator]
        "latency_median_s": round(float(np.median(latencies)), 2) if latencies.size else None,
        "latency_p90_s": round(float(np.percentile(latencies, 90)), 2) if latencies.size else None,
        "false_alarms_per_hour": round(sum(o.alarm_count for o in adls) / adl_hours, 2)
        if adl_hours > 0
        else None,
        "adl_hours": round(adl_hours, 4),
    }


def tally(outcomes: Iterable[Outcome], key: Callable[[Outcome], str]) -> dict[str, dict[str, int]]:
    """Per key (a source, a manifest): falls caught of falls, daily-activity videos quiet of all."""
    table: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = table.setdefault(key(o), {"falls_caught": 0, "falls": 0, "adl_quiet": 0, "adl": 0})
        if o.is_fall:
            row["falls"] += 1
            row["falls_caught"] += o.result == "caught"
        else:
            row["adl"] += 1
            row["adl_quiet"] += o.result == "quiet"
    return dict(sorted(table.items()))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def choose_rule(
    videos: Sequence[VideoScores], thresholds: Sequence[float], consecutive: Sequence[int]
) -> Rule:
    """The rule with the best sensitivity + specificity on `videos` (training videos only).

    Ties go to the stricter rule (more judgements in a row, then the higher threshold), which stays quieter on
    footage it has not seen.
    """
    if not videos:
        raise ValueError("choose_rule needs at least one video")

    def merit(rule: Rule) -> tuple[float, int, float]:
        outcomes = score_videos(videos, rule)
        falls = [o for o in outcomes if o.is_fall]
        adls = [o for o in outcomes if not o.is_fall]
        sensitivity = sum(o.result == "caught" for o in falls) / len(falls) if falls else 1.0
        specificity = sum(o.result == "quiet" for o in adls) / len(adls) if adls else 1.0
        return (round(sensitivity + specificity, 6), rule.consecutive, rule.threshold)

    rules = [Rule(t, n) for t, n in itertools.product(thresholds, consecutive)]
    return max(rules, key=merit)
