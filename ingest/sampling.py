"""Choosing which decoded frames to analyse: a fixed rate on stream time, by skipping, never by sleeping."""

from __future__ import annotations


class RateSampler:
    """Keeps frames so that the kept ones are about `1 / fps` stream seconds apart.

    Decisions use each frame's own timestamp, so variable-frame-rate sources (GMDCSA24 mixes 15 and 30 fps in one
    clip) are sampled evenly in time, and a source slower than `fps` keeps every frame.
    """

    def __init__(self, fps: float) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.period = 1.0 / fps
        self._next_due: float | None = None

    def keep(self, pts: float) -> bool:
        due = self._next_due
        if due is None or pts >= due + self.period or pts < due - 2 * self.period:
            # First frame, a gap longer than a period, or time going backwards: restart the grid here.
            self._next_due = pts + self.period
            return True
        # A small tolerance: timestamps of a 30 fps stream are not exact multiples of 0.1 s.
        if pts >= due - self.period * 0.05:
            self._next_due = due + self.period
            return True
        return False
