"""Pooling cross-validation outcomes: each method's false alarms per hour over the videos it judged."""

from __future__ import annotations

from pathlib import Path

from app.manifest import ManifestEntry
from recognizer.cross_validate import adl_hours
from recognizer.dataset import LabelledClip
from recognizer.histories import ClipHistory
from recognizer.scoring import Outcome, summarize


def clip(name: str, label: str, seconds: float) -> LabelledClip:
    entry = ManifestEntry(
        Path("/nowhere") / name,
        name,
        "src",
        label,
        None,
        None,
        10.0,
        int(seconds * 10),
        64,
        64,
        name,
        None,
        "",
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
