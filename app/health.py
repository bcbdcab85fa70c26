"""Whether FallWatch can see: each camera's rate of frames really analysed, and the decision that it is behind.

A camera counts as analysed only the frames the analysis loop finished (detector, tracker and recognizer), over
the last `WINDOW_S` of wall time, never the frames picked for analysis, which a loaded machine then drops or
skips. A connected live camera is behind when that rate is under `ingest.min_analysed_fps` (or its own lower
configured rate) while frames meant for analysis were skipped in the window: the loop, not the camera, is short.
A source that is itself slower than the floor is not behind; a dead one is `down`, which is the ingest's business.

The monitor is read from three threads (the analysis loop, `/healthz`, the status reporter); each read samples
the cameras' counters itself, so a stuck analysis loop still turns into `behind` for the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fallwatch.core.config import IngestConfig
from fallwatch.ingest.cameras import Camera

log = logging.getLogger(__name__)

WINDOW_S = 10.0  # long enough to smooth the adaptation's saw-tooth, short enough to say so within seconds
MIN_SPAN_S = 1.0  # a rate over less time than this is noise (the first frames after a start)
RECOVERY_MARGIN = 1.2  # behind until 20 % over the floor: a camera hovering at it is not flip-flopped


class Health(StrEnum):
    """What `/healthz` says, worst first."""

    DOWN = "down"  # a live camera is disconnected: nothing of it is seen
    DEGRADED = "degraded"  # a live camera is analysed under its floor: it is seen too rarely to be trusted
    OK = "ok"


class RecentRate:
    """How fast a cumulative count grew over the last `window_s` of wall time (thread-safe)."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()  # (monotonic time, total), oldest first
        self._lock = threading.Lock()

    def observe(self, total: int, now: float) -> None:
        with self._lock:
            self._samples.append((now, total))
            # Keep one sample at or before the window's start: it is the base the growth is measured from.
            while len(self._samples) >= 2 and self._samples[1][0] <= now - self.window_s:
                self._samples.popleft()

    def growth(self) -> int:
        with self._lock:
            return self._samples[-1][1] - self._samples[0][1] if self._samples else 0

    def per_second(self, now: float) -> float:
        with self._lock:
            if not self._samples:
                return 0.0
            (first_t, first), (_, last) = self._samples[0], self._samples[-1]
            span = min(self.window_s, max(MIN_SPAN_S, now - first_t))
            return (last - first) / span


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera: str
    live: bool
    connected: bool
    analysed_fps: float  # really analysed, over the last WINDOW_S
    sampling_fps: float  # the rate frames are queued at now (lowered by adaptation under load)
    target_fps: float  # the configured rate
    floor_fps: float  # under this, while frames are skipped, the camera is behind
    skipped_recently: bool
    behind: bool

    @property
    def summary(self) -> str:
        """What an operator reads: "analysing 1.2 of 10 fps (minimum 2)"."""
        return f"analysing {self.analysed_fps:.1f} of {self.target_fps:g} fps (minimum {self.floor_fps:g})"


def is_behind(analysed_fps: float, floor_fps: float, skipped_recently: bool, was_behind: bool) -> bool:
    """The health decision for one connected live camera."""
    if not skipped_recently:
        return False  # the loop analysed everything meant for it: a slow source, not a blind FallWatch
    return analysed_fps < (floor_fps * RECOVERY_MARGIN if was_behind else floor_fps)


def overall(cameras: list[CameraHealth]) -> Health:
    if any(c.live and not c.connected for c in cameras):
        return Health.DOWN
    if any(c.behind for c in cameras):
        return Health.DEGRADED
    return Health.OK


class AnalysisMonitor:
    """Per camera: the analysed and skipped rates, whether it is behind, and a log line when that changes."""

    def __init__(
        self,
        cameras: list[Camera],
        ingest: IngestConfig,
        window_s: float = WINDOW_S,
        now: float | None = None,
    ) -> None:
        self.cameras = list(cameras)
        self.min_analysed_fps = ingest.min_analysed_fps
        self._window_s = window_s
        self._analysed = {c.name: RecentRate(window_s) for c in cameras}
        self._skipped = {c.name: RecentRate(window_s) for c in cameras}
        self._behind: dict[str, bool] = {c.name: False for c in cameras}
        self._lock = threading.Lock()
        self.check(now)  # the zero everything is measured from

    def add(self, camera: Camera) -> None:
        """Watch one more camera (a worker took it), measured from now."""
        with self._lock:
            self.cameras = [c for c in self.cameras if c.name != camera.name] + [camera]
            self._analysed[camera.name] = RecentRate(self._window_s)
            self._skipped[camera.name] = RecentRate(self._window_s)
            self._behind[camera.name] = False
            self._check(camera, time.monotonic())

    def remove(self, name: str) -> None:
        with self._lock:
            self.cameras = [c for c in self.cameras if c.name != name]
            for table in (self._analysed, self._skipped, self._behind):
                table.pop(name, None)

    def check(self, now: float | None = None) -> dict[str, CameraHealth]:
        """Samples every camera's counters at `now` (monotonic seconds; default: now) and decides; logs each
        change of `behind` once."""
        now = time.monotonic() if now is None else now
        with self._lock:
            return {camera.name: self._check(camera, now) for camera in self.cameras}

    def _check(self, camera: Camera, now: float) -> CameraHealth:
        analysed, skipped = self._analysed[camera.name], self._skipped[camera.name]
        analysed.observe(camera.counts.analysed, now)
        skipped.observe(camera.counts.skipped, now)
        rate, target, connected = analysed.per_second(now), camera.sampler_fps, camera.stats.connected
        floor, skipped_recently = min(self.min_analysed_fps, target), skipped.growth() > 0
        was_behind = self._behind[camera.name]
        behind = camera.live and connected and is_behind(rate, floor, skipped_recently, was_behind)
        health = CameraHealth(camera.name, camera.live, connected, rate, camera.sampling_fps, target, floor,
                              skipped_recently, behind)  # fmt: skip
        if behind != was_behind:
            self._behind[camera.name] = behind
            _log_change(health)
        return health

    def report(self, now: float | None = None) -> tuple[bool, dict[str, Any]]:
        """What `/healthz` answers: whether all is well, and the JSON body (status, the cameras behind, each
        camera's counts and rates)."""
        healths = self.check(now)
        status = overall(list(healths.values()))
        behind = {name: health.summary for name, health in healths.items() if health.behind}
        cameras = {camera.name: _camera_json(camera, healths[camera.name])
                   for camera in self.cameras if camera.name in healths}  # fmt: skip
        return status is Health.OK, {"status": status.value, "behind": behind, "cameras": cameras}


def _log_change(health: CameraHealth) -> None:
    if health.behind:
        log.warning("%s is behind: %s; falls on it may be missed", health.camera, health.summary)
    elif health.connected:
        log.warning("%s caught up: %s", health.camera, health.summary)
    else:
        log.warning("%s is no longer behind: it is disconnected", health.camera)


def _camera_json(camera: Camera, health: CameraHealth) -> dict[str, Any]:
    stats, counts = camera.stats, camera.counts
    return {
        "live": camera.live,
        "connected": stats.connected,
        "behind": health.behind,
        "analysed_fps": round(health.analysed_fps, 2),
        "sampling_fps": round(health.sampling_fps, 2),
        "target_fps": health.target_fps,
        "min_analysed_fps": health.floor_fps,
        "decoded": stats.decoded,
        "picked": counts.picked,
        "analysed": counts.analysed,
        "skipped": counts.skipped,
        "dropped": counts.dropped,
        "reconnects": stats.reconnects,
    }
