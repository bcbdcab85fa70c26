"""The alert engine on recorded judgements: what `fallwatch run` would have raised on a clip, without running it.

Cross-validation judges each held-out clip's tubelets (the windows `training.windows.stream_windows` cuts from the
track histories, as the tubelet builder would) with the fold's model, and feeds the predictions to a fresh
`AlertEngine` in the order the pipeline does: per analysed frame, time advances, then that frame's predictions
by track. The times incidents opened are scored by `training.scoring.judge_alarms`, as `fallwatch eval` scores
its incidents, so a cross-validated figure is the product's figure. Replaying is cheap (no video, no network),
which is what lets the engine's thresholds be chosen on other folds from a grid.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fallwatch.alerts.engine import AlertEngine
from fallwatch.core.config import AlertsConfig
from fallwatch.core.types import LABELS, EventKind, Motion, Prediction
from fallwatch.training.scoring import Outcome, judge_alarms

CAMERA = "replay"
# The engine settings cross-validation chooses from; the others keep the configured values.
FALL_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
FALL_WINDOWS = (1, 2, 3, 4)
LYING_THRESHOLDS = (0.6, 0.8)
# Off, or box sides a second: does holding back tracks that travel fast pay on the other folds?
TRAVEL_LIMITS = (0.0, 0.6, 1.0)
# The newest prediction's weight in the moving average: heavier smoothing is quieter, lighter tells sooner.
SMOOTHINGS = (0.5, 0.75, 1.0)
# Off, or the fraction of their height a person's box must have come down for a fall to be told.
MIN_DESCENTS = (0.0, 0.2, 0.3)
# Off, or how many people tracked at once make a crowd, where a fall is told only once the person stays down.
CROWD_SIZES = (0, 5)


@dataclass(frozen=True, slots=True)
class JudgedClip:
    """One clip's recorded predictions and the times of its analysed frames."""

    clip: str
    source: str
    is_fall: bool
    fall_start_s: float | None
    duration_s: float
    frame_pts: npt.NDArray[np.float64]  # increasing
    predictions: tuple[Prediction, ...]


def prediction_rows(predictions: Sequence[Prediction]) -> list[list[float]]:
    """Predictions as plain numbers (for a fold's JSON): track, pts, one score per label, box, and the motion's
    descent and speed when it is known."""
    return [
        [float(p.track_id), round(p.pts, 4), *(round(p.scores[k], 5) for k in LABELS), *p.box]
        + ([] if p.motion is None else [round(p.motion.descent, 4), round(p.motion.speed, 4)])
        for p in predictions
    ]


def predictions_from_rows(rows: Sequence[Sequence[float]]) -> tuple[Prediction, ...]:
    """The inverse of `prediction_rows` (rows written before motion was recorded have none)."""
    out = []
    box_at = 2 + len(LABELS)
    for row in rows:
        scores = np.array(row[2:box_at], dtype=np.float64)
        scores = scores / scores.sum()  # rounding in the JSON must not break the sum-to-one check
        box = tuple(float(v) for v in row[box_at : box_at + 4])
        motion = Motion(float(row[box_at + 4]), float(row[box_at + 5])) if len(row) > box_at + 5 else None
        out.append(Prediction(CAMERA, int(row[0]), float(row[1]), dict(zip(LABELS, scores.tolist(), strict=True)),
                              box, motion))  # type: ignore[arg-type]  # fmt: skip
    return tuple(out)


def incident_times(clip: JudgedClip, config: AlertsConfig) -> list[float]:
    """Stream times at which the engine opened an incident on this clip."""
    engine = AlertEngine(config, run_id="replay/")
    due: defaultdict[float, list[Prediction]] = defaultdict(list)
    for prediction in clip.predictions:
        due[prediction.pts].append(prediction)
    opened: list[float] = []
    for pts in sorted(set(clip.frame_pts.tolist()) | set(due)):
        alerts = engine.advance(CAMERA, pts)
        for prediction in sorted(due.get(pts, ()), key=lambda p: p.track_id):
            alerts += engine.feed(prediction)
        opened += [a.event.pts for a in alerts if a.event.kind is EventKind.OPENED]
    engine.finish()
    return opened


def outcome(clip: JudgedClip, config: AlertsConfig) -> Outcome:
    return judge_alarms(clip.clip, clip.source, clip.is_fall, clip.fall_start_s, incident_times(clip, config))


def engine_grid(base: AlertsConfig) -> list[AlertsConfig]:
    return [
        base.model_copy(
            update={
                "fall_threshold": t,
                "fall_windows": n,
                "lying_threshold": lying,
                "travel_limit": travel,
                "smoothing": smoothing,
                "min_descent": descent,
                "crowd_size": crowd,
            }
        )
        for t, n, lying, travel, smoothing, descent, crowd in itertools.product(
            FALL_THRESHOLDS,
            FALL_WINDOWS,
            LYING_THRESHOLDS,
            TRAVEL_LIMITS,
            SMOOTHINGS,
            MIN_DESCENTS,
            CROWD_SIZES,
        )
    ]


class EngineTrials:
    """Every grid setting's outcome on every clip, each replayed once: cross-validation chooses on several
    overlapping sets of folds, and a clip's outcome under a setting does not depend on which set it is in."""

    def __init__(self, clips: Sequence[JudgedClip], base: AlertsConfig) -> None:
        self.grid = engine_grid(base)
        self._position = {_grid_key(config): at for at, config in enumerate(self.grid)}
        self._outcomes = {clip.clip: [outcome(clip, config) for config in self.grid] for clip in clips}

    def outcomes(self, clips: Sequence[JudgedClip], config: AlertsConfig) -> list[Outcome]:
        at = self._position.get(_grid_key(config))
        if at is None:
            raise ValueError(
                f"engine settings {engine_settings(config)} are not in the grid that was replayed"
            )
        return [self._outcomes[clip.clip][at] for clip in clips]

    def choose(self, clips: Sequence[JudgedClip]) -> AlertsConfig:
        """The grid's engine settings with the best sensitivity + specificity on `clips` (never the clips
        they will be scored on). Ties go to the stricter settings, which stay quieter on footage not seen."""
        if not clips:
            raise ValueError("choosing engine settings needs at least one clip")
        rows = [self._outcomes[clip.clip] for clip in clips]
        falls = [row for row, clip in zip(rows, clips, strict=True) if clip.is_fall]
        adls = [row for row, clip in zip(rows, clips, strict=True) if not clip.is_fall]

        def merit(at: int) -> tuple[float, ...]:
            sensitivity = sum(row[at].result == "caught" for row in falls) / len(falls) if falls else 1.0
            specificity = sum(row[at].result == "quiet" for row in adls) / len(adls) if adls else 1.0
            return (round(sensitivity + specificity, 6), *_strictness(self.grid[at]))

        return self.grid[max(range(len(self.grid)), key=merit)]


def _grid_key(config: AlertsConfig) -> tuple[float, ...]:
    # The settings the grid varies: the rest is the base every grid setting shares.
    return tuple(engine_settings(config).values())


def _strictness(config: AlertsConfig) -> tuple[float, ...]:
    """Larger is quieter: more falling windows, higher thresholds, a lower travel limit, heavier smoothing, a
    larger descent asked of a fall."""
    travel = -(config.travel_limit or math.inf)  # a lower limit holds back more
    return (config.fall_windows, config.fall_threshold, config.lying_threshold, travel, -config.smoothing,
            config.min_descent, -(config.crowd_size or math.inf))  # fmt: skip


def choose_engine(clips: Sequence[JudgedClip], base: AlertsConfig) -> AlertsConfig:
    """`EngineTrials.choose` for one set of clips."""
    return EngineTrials(clips, base).choose(clips)


def engine_settings(config: AlertsConfig) -> dict[str, float]:
    return {
        "fall_threshold": config.fall_threshold,
        "fall_windows": config.fall_windows,
        "lying_threshold": config.lying_threshold,
        "travel_limit": config.travel_limit,
        "smoothing": config.smoothing,
        "min_descent": config.min_descent,
        "crowd_size": config.crowd_size,
    }
