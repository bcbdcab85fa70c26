"""What each manifest brought to a training run (falldata, and each export of operators' decisions): its clips,
its labelled windows, and how the held-out videos of each fared, so that an export's worth can be seen."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from fallwatch.core.types import LABELS
from fallwatch.training.dataset import LabelledClip
from fallwatch.training.scoring import Outcome, tally
from fallwatch.training.windows import Window


def manifest_name(clip: LabelledClip) -> str:
    return clip.entry.manifest or "(no manifest)"


def clip_counts(clips: Sequence[LabelledClip]) -> dict[str, dict[str, object]]:
    """Per manifest: clips, falls, daily-activity videos, their sources."""
    grouped: dict[str, list[LabelledClip]] = {}
    for clip in clips:
        grouped.setdefault(manifest_name(clip), []).append(clip)
    return {
        name: {
            "clips": len(members),
            "falls": sum(c.entry.is_fall for c in members),
            "adl": sum(not c.entry.is_fall for c in members),
            "sources": sorted({c.entry.source for c in members}),
        }
        for name, members in sorted(grouped.items())
    }


def window_counts(windows: Sequence[Window], clips: Sequence[LabelledClip]) -> dict[str, dict[str, int]]:
    """Per manifest: the labelled training windows of each class."""
    manifest_of = {c.entry.relative: manifest_name(c) for c in clips}
    counts: dict[str, Counter[str]] = {}
    for window in windows:
        counts.setdefault(manifest_of[window.clip], Counter())[LABELS[window.label]] += 1
    return {name: {label: counter[label] for label in LABELS} for name, counter in sorted(counts.items())}


def outcome_counts(outcomes: Sequence[Outcome], clips: Sequence[LabelledClip]) -> dict[str, dict[str, int]]:
    """Per manifest: held-out falls caught and daily-activity videos kept quiet."""
    manifest_of = {c.entry.relative: manifest_name(c) for c in clips}
    return tally(outcomes, lambda o: manifest_of[o.clip])


def short_name(manifest: str) -> str:
    """A manifest's name for a table: its folder and file."""
    path = Path(manifest)
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name
