"""Choosing which decoded frames to analyse: a rate on stream time, by skipping, never by sleeping; and lowering
that rate for a live camera while the analysis loop cannot keep up."""

from __future__ import annotations


class RateSampler:
    """Keeps frames so that the kept ones are about `1 / fps` stream seconds apart.

    Decisions use each frame's own timestamp, so variable-frame-rate sources (GMDCSA24 mixes 15 and 30 fps in one
    clip) are sampled evenly in time, and a source slower than `fps` keeps every frame.
    """

    def __init__(self, fps: float) -> None:
        self.period = _period(fps)
        self._next_due: float | None = None

    def set_rate(self, fps: float) -> None:
        """A new rate from the next decision on; the grid carries on from the last kept frame."""
        self.period = _period(fps)

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


def _period(fps: float) -> float:
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return 1.0 / fps


class AdaptiveRate:
    """The analysis rate of one live camera: additive increase, multiplicative decrease (AIMD), once a tick.

    The camera hub calls `update` about once a second of wall time with what the camera's queue says. Frames
    piling up (`backlogged`: more than a second of them waiting, or some dropped since the last tick) mean the
    analysis loop takes them more slowly than they come: the rate is multiplied by `DECREASE`. An empty queue
    (`headroom`) means the loop waits for this camera: the rate grows by `INCREASE` of the configured rate, never
    past it. Otherwise it holds. The camera then keeps evenly spaced frames at the lower rate instead of losing
    whole seconds from a full queue, and its backlog stays short, so what is analysed is close to live.

    Fairness needs nothing more: the loop takes one frame per camera per cycle, so a camera whose rate the loop can
    serve never backs up and keeps its rate, while the cameras that do back up shrink together, and AIMD flows
    sharing one bottleneck converge to equal shares. The rate settles in a saw-tooth a little under what the loop
    can analyse; the recognizer's tubelets then span more stream time, which its training on varied clips covers.
    """

    DECREASE = 0.7  # gentler than TCP's halving: the thinned queue, not a deep cut, clears the backlog
    INCREASE = 0.05  # of the configured rate per tick: from the floor back to full in about 20 s
    FLOOR = 0.05  # of the configured rate: below it a camera is not watched in any useful sense anyway

    def __init__(self, target_fps: float) -> None:
        _period(target_fps)
        self.target_fps = target_fps
        self.fps = target_fps

    @property
    def lowered(self) -> bool:
        return self.fps < self.target_fps

    def update(self, backlogged: bool, headroom: bool) -> float:
        """The rate after one tick."""
        if backlogged:
            self.fps = max(self.target_fps * self.FLOOR, self.fps * self.DECREASE)
        elif headroom:
            self.fps = min(self.target_fps, self.fps + self.target_fps * self.INCREASE)
        return self.fps
