"""Labels for windows of a track's history, from a manifest's fall times.

`normal` before the fall, `falling` during the descent, `lying` once down; windows that mix them in a way that
cannot be called honestly are left out (label None). Daily-activity clips are `normal` throughout, lying in bed or
exercising on the floor included: `lying` means lying on the ground after a fall.

GMDCSA24 annotates one `Falling` interval that runs on into lying on the floor, so its end is not the end of the
descent. The descent's end is estimated from the person's own box: the moment the top of the box (the head,
roughly) has covered 85% of its drop from the fall's start to where it settles, bounded to 0.4-3 s after the
start. Hand-annotated clips give the moment the body comes to rest, used as is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fallwatch.core.manifest import ManifestEntry
from fallwatch.training.histories import ClipHistory, TrackHistory

NORMAL, FALLING, LYING = "normal", "falling", "lying"
MIN_DESCENT_S, MAX_DESCENT_S = 0.4, 3.0
SETTLED_FRACTION = 0.85
GMDCSA = "GMDCSA24"


@dataclass(frozen=True, slots=True)
class FallTimes:
    start: float
    rest: float  # when the body comes to rest on the ground


def faller(history: ClipHistory, start: float, end: float) -> TrackHistory | None:
    """The person who falls: of the tracks seen for at least half as long as the most-seen one around the fall,
    the one whose box drops the most (top of the box, as a fraction of its height before the fall), then the
    one seen the most.

    Picking by presence (or size) alone picks a bystander who is nearer the camera or in view for longer.
    """
    window_end = max(end, start + MAX_DESCENT_S) + 1.0

    def presence(track: TrackHistory) -> int:
        return int(((track.pts >= start - 0.5) & (track.pts <= window_end)).sum())

    def drop(track: TrackHistory) -> float:
        before = (track.pts < start) & (track.pts >= start - 2.0)
        after = (track.pts >= start) & (track.pts <= window_end)
        if not after.any():
            return 0.0
        reference = before if before.any() else after
        top = float(np.median(track.boxes[reference, 1][:5]))
        height = float(np.median(track.boxes[reference, 3][:5] - track.boxes[reference, 1][:5]))
        return float(np.max(track.boxes[after, 1]) - top) / max(height, 1.0)

    counts = {t.track_id: presence(t) for t in history.tracks}
    most = max(counts.values(), default=0)
    if most == 0:
        return None
    candidates = [t for t in history.tracks if counts[t.track_id] * 2 >= most]
    return max(candidates, key=lambda t: (round(drop(t), 2), counts[t.track_id]))


def descent_end(track: TrackHistory, start: float, annotated_end: float) -> float:
    """When the descent ends, estimated from the top of the person's box settling."""
    after = track.pts >= start
    if after.sum() < 3:
        return min(start + 1.0, annotated_end)
    before = track.pts < start
    top = track.boxes[:, 1]
    top_start = float(np.median(top[before][-5:])) if before.any() else float(top[after][0])
    times, tops = track.pts[after], top[after]
    settled = float(np.median(tops[-5:]))
    drop = settled - top_start
    if drop <= 0:
        return min(start + 1.0, annotated_end)
    reached = np.nonzero(tops - top_start >= SETTLED_FRACTION * drop)[0]
    end = float(times[reached[0]]) if reached.size else annotated_end
    return float(np.clip(end, start + MIN_DESCENT_S, min(start + MAX_DESCENT_S, annotated_end)))


def fall_times(entry: ManifestEntry, track: TrackHistory) -> FallTimes | None:
    if not entry.is_fall or entry.fall_start_s is None:
        return None
    start = entry.fall_start_s
    end = entry.fall_end_s if entry.fall_end_s is not None else start + MAX_DESCENT_S
    if entry.source == GMDCSA:
        end = descent_end(track, start, end)
    return FallTimes(start, max(end, start + MIN_DESCENT_S))


def window_label(t0: float, t1: float, fall: FallTimes | None) -> str | None:
    """The label of a window spanning stream times [t0, t1] of the faller (None: left out)."""
    if fall is None:
        return NORMAL
    if t1 < fall.start:
        return NORMAL
    if t0 >= fall.rest:
        return LYING
    overlap = min(t1, fall.rest) - max(t0, fall.start)
    descent = fall.rest - fall.start
    if overlap >= min(0.5, descent / 2):
        return FALLING
    return None
