"""Pooling cross-validation outcomes: each method's false alarms per hour over the videos it judged."""

from __future__ import annotations

from pathlib import Path

from fallwatch.core.manifest import ManifestEntry
from fallwatch.training.cross_validate import adl_hours
from fallwatch.training.dataset import LabelledClip
from fallwatch.training.histories import ClipHistory
from fallwatch.training.scoring import Outcome, summarize


def clip(name: str, label: str, seconds: float, fall_start_s: float | None = None) -> LabelledClip:
    path = Path("/nowhere") / name
    entry = ManifestEntry(
        path, name, "src", label, fall_start_s, None, 10.0, int(seconds * 10), 64, 64, name, None, ""
    )
    return LabelledClip(entry, ClipHistory(name, (), seconds))


def test_false_alarms_per_hour_count_only_the_videos_a_method_judged() -> None:
    # Regression: every method was divided by the hours of all ADL clips, so a reference run on fewer
    # clips showed the same rate as the recognizer whenever their false-alarm counts matched.
    clips = [clip("a", "adl", 1800.0), clip("b", "adl", 1800.0), clip("f", "fall", 600.0)]
    everything = [
        Outcome("a", "src", False, 5.0, "false_alarm", None),
        Outcome("b", "src", False, None, "quiet", None),
        Outcome("f", "src", True, 3.0, "caught", 0.5),
    ]
    fewer = [everything[0], everything[2]]  # a method that never judged "b"
    assert adl_hours(everything, clips) == 1.0
    assert adl_hours(fewer, clips) == 0.5
    assert summarize(everything, adl_hours(everything, clips))["false_alarms_per_hour"] == 1.0
    assert summarize(fewer, adl_hours(fewer, clips))["false_alarms_per_hour"] == 2.0


def fold_result(videos: dict[str, float]) -> dict[str, object]:
    """A finished fold whose held-out videos each have one track with a constant score from 1 s to 10 s."""
    times = [float(t) for t in range(1, 11)]
    return {
        "outcomes": {},
        "rules": {},
        "series": {name: [[times, [score] * len(times)]] for name, score in videos.items()},
    }


def test_a_folds_alarm_rule_is_chosen_on_the_other_folds_held_out_videos(tmp_path: Path) -> None:
    from fallwatch.core.config import load_settings
    from fallwatch.training.cross_validate import Experiment, RunOptions
    from fallwatch.training.train import TrainConfig

    clips = [clip(f"fall{i}", "fall", 10.0, 1.0) for i in range(3)] + [
        clip(f"adl{i}", "adl", 10.0) for i in range(3)
    ]
    # Folds 1 and 2 separate falls (0.93) from daily activity (0.85): a 0.9 threshold is right for them. Fold 0
    # alone would pick 0.95 to keep its daily-activity video (0.92) quiet; it must not see its own videos.
    results = [
        fold_result({"fall0": 0.97, "adl0": 0.92}),
        fold_result({"fall1": 0.93, "adl1": 0.85}),
        fold_result({"fall2": 0.93, "adl2": 0.85}),
    ]
    options = RunOptions(out_dir=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    Experiment(TrainConfig(), load_settings(None), options)._recognizer_outcomes(clips, results)
    first = results[0]
    assert first["rules"]["recognizer"]["threshold"] == 0.9  # type: ignore[index]
    assert first["rules"]["recognizer"]["chosen_on_videos"] == 4  # type: ignore[index]
    outcome = {o["clip"]: o["result"] for o in first["outcomes"]["recognizer"]}  # type: ignore[index]
    assert outcome == {"fall0": "caught", "adl0": "false_alarm"}
