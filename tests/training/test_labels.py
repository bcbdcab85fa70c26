"""Window labels on a hand-made track history: normal before the fall, falling in the descent, lying after."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import LABELS
from fallwatch.training.histories import ClipHistory, TrackHistory
from fallwatch.training.labels import FALLING, LYING, NORMAL, descent_end, fall_times, faller, window_label
from fallwatch.training.windows import UNLABELLED, clip_windows, stream_windows

FPS = 10.0


def _track(
    track_id: int, seconds: float, drop_at: tuple[float, float] | None, x0: float = 100.0
) -> TrackHistory:
    """A standing person (box 100x300) whose box top drops by 200 px, linearly, between `drop_at`."""
    pts = np.arange(0, seconds, 1 / FPS, dtype=np.float32)
    top = np.full(pts.shape, 100.0, dtype=np.float32)
    if drop_at is not None:
        a, b = drop_at
        top = 100.0 + 200.0 * np.clip((pts - a) / (b - a), 0.0, 1.0)
    boxes = np.stack([np.full_like(pts, x0), top, np.full_like(pts, x0 + 100), np.full_like(pts, 400)], 1)
    n = len(pts)
    return TrackHistory(
        track_id=track_id,
        pts=pts,
        crops=np.zeros((n, 8, 8, 3), np.uint8),
        boxes=boxes.astype(np.float32),
        keypoints=np.full((n, 17, 3), np.nan, np.float32),
        missed=np.zeros(n, np.int16),
    )


def _entry(source: str, label: str, start: float | None, end: float | None) -> ManifestEntry:
    return ManifestEntry(
        path=Path("/nonexistent/clip.mp4"), relative="clip.mp4", source=source, label=label,
        fall_start_s=start, fall_end_s=end, fps=FPS, frames=100, width=640, height=480, group="g",
        crop=None, notes="",
    )  # fmt: skip


def test_window_label_boundaries() -> None:
    fall = fall_times(_entry("hand", "fall", 3.0, 4.0), _track(1, 10, (3.0, 4.0)))
    assert fall is not None and (fall.start, fall.rest) == (3.0, 4.0)
    assert window_label(1.0, 2.9, fall) == NORMAL
    assert window_label(3.0, 4.5, fall) == FALLING
    assert window_label(2.9, 3.1, fall) is None  # mostly before the fall: cannot be called honestly
    assert window_label(4.0, 5.5, fall) == LYING
    assert window_label(0.0, 9.0, None) == NORMAL  # daily activity


def test_gmdcsa_descent_end_is_estimated_from_the_box() -> None:
    # GMDCSA24's Falling interval runs to the clip's end (10 s); the box settles at 4 s.
    track = _track(1, 10, (3.0, 4.0))
    end = descent_end(track, 3.0, 10.0)
    assert 3.7 <= end <= 4.0
    fall = fall_times(_entry("GMDCSA24", "fall", 3.0, 10.0), track)
    assert fall is not None and fall.rest == pytest.approx(end)


def test_only_the_faller_is_labelled_in_a_fall_clip() -> None:
    # The bystander is in view as long as the victim and has the larger box: only the drop tells them apart.
    bystander = _track(1, 10, None, x0=400.0)
    victim = _track(2, 10, (3.0, 4.0))
    history = ClipHistory("clip.mp4", (bystander, victim), 10.0)
    entry = _entry("hand", "fall", 3.0, 4.0)
    chosen = faller(history, 3.0, 4.0)
    assert chosen is not None and chosen.track_id == 2
    windows = clip_windows(entry, history, length=8)
    assert {w.track.track_id for w in windows} == {chosen.track_id}
    labels = {LABELS[w.label] for w in windows}
    assert labels == {NORMAL, FALLING, LYING}
    stream = stream_windows(entry, history, length=8, stride=4)
    assert all(w.label == UNLABELLED for w in stream if w.track.track_id == 1)
    assert any(w.label == LABELS.index(LYING) for w in stream if w.track.track_id == 2)


def test_daily_activity_windows_are_all_normal() -> None:
    history = ClipHistory("clip.mp4", (_track(1, 6, (2.0, 3.0)), _track(2, 6, None)), 6.0)
    windows = clip_windows(_entry("hand", "adl", None, None), history, length=8)
    assert windows and {LABELS[w.label] for w in windows} == {NORMAL}
