"""Cross-validation through the alert engine: the replay opens incidents as the engine does, its thresholds are
chosen on other clips, and on real clips it gives what `fallwatch eval` gives with the same model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fallwatch.core.config import AlertsConfig, Settings
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import LABELS, Motion, Prediction
from fallwatch.training.replay import (
    CAMERA,
    EngineTrials,
    JudgedClip,
    choose_engine,
    incident_times,
    outcome,
    prediction_rows,
    predictions_from_rows,
)


def scores(falling: float, lying: float = 0.0) -> dict[str, float]:
    return dict(zip(LABELS, (1.0 - falling - lying, falling, lying), strict=True))


def clip(name: str, falling: list[float], fall_start_s: float | None) -> JudgedClip:
    """One person judged every 0.4 s with these P(falling)."""
    times = [0.4 * (i + 1) for i in range(len(falling))]
    predictions = tuple(
        Prediction(CAMERA, 1, t, scores(f), (10.0, 10.0, 50.0, 120.0))
        for t, f in zip(times, falling, strict=True)
    )
    frames = np.round(np.arange(0.1, times[-1] + 0.05, 0.1), 3)
    return JudgedClip(name, "src", fall_start_s is not None, fall_start_s, times[-1], frames, predictions)


def test_the_engine_opens_one_incident_when_falling_holds_for_its_windows() -> None:
    video = clip("fall", [0.1, 0.1, 0.9, 0.9, 0.9, 0.2], fall_start_s=1.0)
    config = AlertsConfig(smoothing=1.0, fall_threshold=0.6, fall_windows=2)
    assert incident_times(video, config) == [pytest.approx(1.6)]  # the second falling window in a row
    assert incident_times(video, config.model_copy(update={"fall_windows": 4})) == []
    assert outcome(video, config).result == "caught"


def test_predictions_survive_the_fold_json() -> None:
    video = clip("fall", [0.1, 0.9, 0.3], fall_start_s=0.5)
    back = predictions_from_rows(prediction_rows(video.predictions))
    assert [(p.track_id, p.pts, p.box) for p in back] == [
        (p.track_id, round(p.pts, 4), p.box) for p in video.predictions
    ]
    assert all(
        abs(a.scores[k] - b.scores[k]) < 1e-4
        for a, b in zip(back, video.predictions, strict=True)
        for k in LABELS
    )
    assert all(p.motion is None for p in back)  # rows written before motion was recorded
    moving = [replace(p, motion=Motion(0.4567891, 1.25)) for p in video.predictions]
    assert [p.motion for p in predictions_from_rows(prediction_rows(moving))] == [Motion(0.4568, 1.25)] * 3


def test_the_descent_asked_of_a_fall_is_chosen_on_the_clips_too() -> None:
    # Daily activity the network reads as a fall as surely as the real one, but whose box never came down
    # (sit-ups, a walker under a ceiling camera): only asking for a descent tells them apart.
    def moving(name: str, falling: list[float], start: float | None, descent: float) -> JudgedClip:
        video = clip(name, falling, start)
        motion = Motion(descent, 0.1)
        return replace(video, predictions=tuple(replace(p, motion=motion) for p in video.predictions))

    clips = [moving("f", [0.1, 0.9, 0.9, 0.9], 0.5, 0.6), moving("a", [0.1, 0.9, 0.9, 0.9], None, 0.05)]
    assert outcome(clips[1], AlertsConfig(smoothing=1.0, min_descent=0.0)).result == "false_alarm"
    chosen = choose_engine(clips, AlertsConfig(smoothing=1.0))
    assert 0.05 < chosen.min_descent <= 0.6
    assert [outcome(c, chosen).result for c in clips] == ["caught", "quiet"]


def test_engine_thresholds_come_from_the_clips_they_are_chosen_on() -> None:
    # Falls reach 0.75, daily activity 0.55: a threshold between them is right; if daily activity reaches 0.85
    # instead, only the highest threshold the falls still pass (none here) or missing a fall are left.
    base = AlertsConfig(smoothing=1.0)
    separable = [clip("f", [0.1, 0.75, 0.75, 0.75], 0.5), clip("a", [0.1, 0.55, 0.55, 0.55], None)]
    chosen = choose_engine(separable, base)
    assert 0.55 < chosen.fall_threshold <= 0.75
    assert [outcome(c, chosen).result for c in separable] == ["caught", "quiet"]
    noisy = [clip("f", [0.1, 0.75, 0.75, 0.75], 0.5), clip("a", [0.1, 0.85, 0.85, 0.85], None)]
    strict = choose_engine(noisy, base)
    assert outcome(noisy[1], strict).result == "quiet"  # ties (one of two right) go to the quieter settings


def test_smoothing_is_chosen_too_and_ties_go_to_the_heavier() -> None:
    # One sharp falling window: the default moving average (newest weighs 0.5) halves it below every threshold
    # the daily activity's 0.4 leaves room for; only a lighter average tells the fall.
    base = AlertsConfig(smoothing=0.5)
    sharp = [clip("f", [0.05, 0.95, 0.05, 0.05], 0.5), clip("a", [0.05, 0.4, 0.4, 0.05], None)]
    assert outcome(sharp[0], base.model_copy(update={"fall_windows": 1})).result == "missed"
    chosen = choose_engine(sharp, base)
    assert chosen.smoothing > 0.5
    assert [outcome(c, chosen).result for c in sharp] == ["caught", "quiet"]
    # A long, clear fall every setting catches: the heaviest smoothing, the quietest, is kept.
    steady = [clip("f", [0.1] + [0.99] * 9, 0.5), clip("a", [0.1] * 10, None)]
    assert choose_engine(steady, AlertsConfig(smoothing=1.0)).smoothing == 0.5


def test_trials_replayed_once_choose_as_a_fresh_choice_on_each_subset() -> None:
    # Cross-validation chooses on every set of other folds from one table: each choice must be the one made
    # on that subset alone, and the outcomes read back must be the replayed ones.
    base = AlertsConfig(smoothing=1.0)
    clips = [
        clip("f1", [0.1, 0.75, 0.75, 0.75], 0.5),
        clip("f2", [0.1, 0.95, 0.2, 0.2], 0.5),
        clip("a1", [0.1, 0.55, 0.55, 0.55], None),
        clip("a2", [0.1, 0.85, 0.85, 0.1], None),
    ]
    trials = EngineTrials(clips, base)
    for left_out in range(len(clips)):
        others = [c for i, c in enumerate(clips) if i != left_out]
        chosen = trials.choose(others)
        assert chosen == choose_engine(others, base)
        assert [o.result for o in trials.outcomes(clips, chosen)] == [
            outcome(c, chosen).result for c in clips
        ]
    with pytest.raises(ValueError, match="at least one clip"):
        trials.choose([])
    off_grid = base.model_copy(update={"fall_threshold": 0.123})
    with pytest.raises(ValueError, match="not in the grid"):
        trials.outcomes(clips, off_grid)


# Short real clips: a fall the shipped model catches and two daily-activity videos.
REAL = ("GMDCSA24/Subject 2/Fall/12.mp4", "GMDCSA24/Subject 3/ADL/19.mp4", "GMDCSA24/Subject 2/ADL/23.mp4")


@pytest.mark.slow
def test_replay_of_a_models_judgements_is_what_fallwatch_eval_gives(
    manifest: list[ManifestEntry],
    settings: Settings,
    detector,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from fallwatch.app.evaluate import _video_settings, evaluate_video
    from fallwatch.recognizer.checkpoint import load_checkpoint
    from fallwatch.recognizer.infer import SHIPPED_CHECKPOINT, Recognizer
    from fallwatch.training.cross_validate import judge_clips
    from fallwatch.training.dataset import load_histories
    from fallwatch.training.keypoint_rule import KeypointRule

    torch_settings = settings.model_copy(
        update={"recognizer": settings.recognizer.model_copy(update={"backend": "torch"})}
    )
    entries = [e for e in manifest if e.relative in REAL]
    assert len(entries) == len(REAL)
    clips = load_histories(entries, torch_settings, tmp_path / "histories", progress=False)
    model, spec = load_checkpoint(SHIPPED_CHECKPOINT)
    judged = judge_clips(clips, model, spec, "cpu", torch_settings.tubelets.stride)
    recognizer = Recognizer(torch_settings.recognizer, torch_settings)
    video_settings = _video_settings(torch_settings, f"sqlite:///{tmp_path / 'eval.db'}")
    # Ask for a descent and hold back fast tubelets, whatever the defaults: the tubelets' motion must agree too.
    alerts = video_settings.alerts.model_copy(update={"min_descent": 0.3, "travel_limit": 0.6})
    video_settings = video_settings.model_copy(update={"alerts": alerts})
    results = []
    for index, (entry, replayed) in enumerate(zip(entries, judged, strict=True)):
        ran = evaluate_video(entry, index, video_settings, recognizer, detector, KeypointRule())
        # The same tubelets: one prediction per window of every track, at the same times, with the same scores.
        eval_rows = sorted(
            (int(track), round(r[0], 2), r[1], r[2]) for track, rows in ran.series.items() for r in rows
        )
        replay_rows = sorted(
            (p.track_id, round(p.pts, 2), p.scores["falling"], p.scores["lying"])
            for p in replayed.predictions
        )
        assert [r[:2] for r in replay_rows] == [r[:2] for r in eval_rows], entry.relative
        assert np.allclose([r[2:] for r in replay_rows], [r[2:] for r in eval_rows], atol=2e-3), (
            entry.relative
        )
        # ... and the engine opens the same incidents, so the outcome is the one `fallwatch eval` reports.
        opened = incident_times(replayed, video_settings.alerts)
        assert opened == pytest.approx(ran.incident_times, abs=1e-3), entry.relative
        results.append(outcome(replayed, video_settings.alerts).result)
    assert results[0] == "caught"  # the fall was found at all: the comparison is not between two silences
