"""The whole pipeline for `fallwatch run` and `fallwatch eval`, one code path for both.

cameras -> perception (detector batch over all cameras, per-camera tracker and tubelets) -> recognizer (one batch
over every ready tubelet of every camera) -> alert service (engine on stream time, evidence, store writer).

Stages are decoupled by each camera's bounded queue and by the store writer's own thread; nothing here grows with
the length of a run except the optional prediction log that `eval` asks for. A frame counts as analysed once the
recognizer has judged what it completed; live cameras' rates adapt to what this loop keeps up with (`CameraHub`),
and `AnalysisMonitor` says when a camera is still analysed too rarely.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fallwatch.alerts.service import AlertService
from fallwatch.app.assignment import Changes
from fallwatch.app.health import AnalysisMonitor
from fallwatch.app.metrics import PipelineMetrics
from fallwatch.core.config import Settings
from fallwatch.core.timing import StageTimer
from fallwatch.core.types import EventKind, Frame, IncidentEvent, Prediction, Tubelet
from fallwatch.detectors.perception import Perception, PerceptionStep
from fallwatch.detectors.person import PersonDetector
from fallwatch.ingest.cameras import Camera, CameraHub
from fallwatch.recognizer.infer import Recognizer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CameraReport:
    name: str
    decoded: int
    picked: int  # due for analysis at the configured rate
    analysed: int  # really analysed
    skipped: int  # picked but never analysed: dropped from a full queue, or skipped by adaptation
    dropped: int
    corrupt: int
    reconnects: int
    error: str | None


@dataclass
class RunResult:
    events: list[IncidentEvent]
    cameras: dict[str, CameraReport]
    analysed_frames: int
    wall_s: float
    stored: bool  # every incident reached the store before the run ended
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def opened(self) -> list[IncidentEvent]:
        return [e for e in self.events if e.kind is EventKind.OPENED]

    @property
    def analysed_fps(self) -> float:
        return self.analysed_frames / self.wall_s if self.wall_s > 0 else 0.0


class Roster(Protocol):
    """Which cameras this process analyses, when several share them (`app.assignment` through the store)."""

    name: str  # this worker's
    busy: frozenset[str]  # cameras with an incident in progress, told by the loop: never handed on

    def changes(self) -> Changes: ...
    def held(self) -> dict[str, int]: ...
    def epoch(self, camera: str) -> int | None: ...
    def camera(self, name: str) -> Camera: ...
    def ended(self, camera: str) -> None: ...
    def finished(self, hub: CameraHub) -> bool: ...


def settings_for(settings: Settings, recognizer: Recognizer) -> Settings:
    """The settings with tubelets shaped as the recognizer expects them."""
    tubelets = settings.tubelets.model_copy(update={"frames": recognizer.frames})
    return settings.model_copy(update={"tubelets": tubelets})


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        recognizer: Recognizer,
        alerts: AlertService,
        detector: PersonDetector | None = None,
        metrics: PipelineMetrics | None = None,
        keep_predictions: bool = False,
        observer: Callable[[PerceptionStep], None] | None = None,
    ) -> None:
        self.settings = settings_for(settings, recognizer)
        self.recognizer = recognizer
        self.alerts = alerts
        self.timer = StageTimer()
        self.perception = Perception(self.settings, detector=detector, timer=self.timer)
        self.metrics = metrics
        self.keep_predictions = keep_predictions
        self._reported: dict[str, float] = {}
        # Sees every frame's detections and tracks (eval's keypoint baseline uses it).
        self.observer = observer
        self.last_frames: dict[str, Frame] = {}  # the newest analysed frame per camera, for status reports
        self.beat = time.monotonic()  # the analysis loop's last turn (/livez)
        self._hub: CameraHub | None = None
        self._retiring: dict[str, bool] = {}  # camera -> handed on (True) or lost (False), while it drains
        self._restart: set[str] = set()
        self._ended: dict[str, Camera] = {}

    def run(
        self,
        cameras: list[Camera],
        stop: threading.Event | None = None,
        monitor: AnalysisMonitor | None = None,
        roster: Roster | None = None,
    ) -> RunResult:
        """Runs until every camera ends (files) or `stop` is set (then drains what is queued).

        With a `roster` (a worker's leases), cameras start and stop as it says, and the run goes on while it
        has cameras to give or `stop` is unset."""
        stop = stop or threading.Event()
        monitor = monitor or AnalysisMonitor(cameras, self.settings.ingest)
        start, analysed = time.monotonic(), 0
        predictions: list[Prediction] = []
        flushed: set[str] = set()
        by_name = {camera.name: camera for camera in cameras}
        self._ended = {}
        if self.metrics is not None:
            for camera in cameras:
                self.metrics.add_camera(camera.name)
        hub = CameraHub(cameras, adapt=True, dynamic=roster is not None)
        self._hub = hub
        keep_open = None if roster is None else (lambda: not stop.is_set() and not roster.finished(hub))
        with hub:
            for batch in hub.batches(keep_open=keep_open):
                self.beat = time.monotonic()
                if stop.is_set():
                    hub.request_stop()
                elif roster is not None:
                    self._follow(roster, hub, monitor, by_name)
                if roster is not None:
                    # A camera whose lease was lost is another worker's from that moment: what it still had
                    # queued is not analysed here (even before the loop hears of the loss).
                    batch = [frame for frame in batch if roster.epoch(frame.camera) is not None]
                tubelets = self._perceive(batch)
                for name in set(hub.finished()) - flushed:
                    flushed.add(name)
                    ending = self._retiring.pop(name, None)
                    finished = self.perception.finish(name)
                    if ending is not False:  # a lost camera's last tubelets are another worker's to judge
                        tubelets += finished
                    if ending is not None:
                        self._leave(name, hub, monitor, roster, flushed, by_name, handed_on=ending)
                predictions += self._judge(tubelets)
                for frame in batch:
                    if frame.camera in by_name:
                        by_name[frame.camera].counts.analysed += 1
                analysed += len(batch)
                self._report(hub.cameras, monitor)
            for name in set(hub.finished()) - flushed:
                predictions += self._judge(self.perception.finish(name))
        # Stopped (a signal), not at the end of the streams: a person still down is left for the next worker.
        stored = self.alerts.close(leave_down=stop.is_set() and roster is not None)
        wall = time.monotonic() - start
        reports = {c.name: self._camera_report(c, hub) for c in [*self._ended.values(), *hub.cameras]}
        return RunResult(list(self.alerts.events), reports, analysed, wall, stored,
                         predictions if self.keep_predictions else [])  # fmt: skip

    def running_cameras(self) -> list[Camera]:
        """The cameras decoding now (for a signal handler that must stop them even before any frame)."""
        return list(self._hub.cameras) if self._hub is not None else []

    def _follow(
        self, roster: Roster, hub: CameraHub, monitor: AnalysisMonitor, by_name: dict[str, Camera]
    ) -> None:
        """Start the cameras the roster gave us, retire the ones it took back."""
        changes = roster.changes()
        self.alerts.lease_of = roster.epoch
        for name in changes.lost:
            self._retiring[name] = False
            hub.retire(name)
        for name in changes.handed_on:
            self._retiring[name] = True
            hub.retire(name)
        for name in changes.started:
            if name in hub.states:  # still draining from an earlier lease: started again once it has gone
                self._restart.add(name)
                continue
            self.alerts.take_over(name)
            self._start(roster.camera(name), hub, monitor, by_name)
        roster.busy = self.alerts.engine.busy_cameras()
        if self.metrics is not None:
            self.metrics.update_leases(roster.name, roster.held())

    def _start(
        self, camera: Camera, hub: CameraHub, monitor: AnalysisMonitor, by_name: dict[str, Camera]
    ) -> None:
        by_name[camera.name] = camera
        monitor.add(camera)
        if self.metrics is not None:
            self.metrics.add_camera(camera.name)
        hub.add(camera)

    def _leave(self, name: str, hub: CameraHub, monitor: AnalysisMonitor, roster: Roster | None,
               flushed: set[str], by_name: dict[str, Camera], *, handed_on: bool) -> None:  # fmt: skip
        """A retired camera has drained: end it in the alert stages, forget it, tell the roster."""
        self.alerts.end_camera(name, handed_on=handed_on)
        camera = hub.remove(name)
        if camera is not None:
            self._ended[name] = camera
        monitor.remove(name)
        if self.metrics is not None:
            self.metrics.remove_camera(name)
        by_name.pop(name, None)
        flushed.discard(name)
        if roster is None:
            return
        roster.ended(name)
        if name in self._restart:
            self._restart.discard(name)
            if roster.epoch(name) is not None:
                self.alerts.take_over(name)
                self._start(roster.camera(name), hub, monitor, by_name)

    def _perceive(self, batch: list[Frame]) -> list[Tubelet]:
        tubelets: list[Tubelet] = []
        for step in self.perception.process(batch):
            if self.observer is not None:
                self.observer(step)
            self.last_frames[step.frame.camera] = step.frame
            self.alerts.on_frame(step.frame)
            tubelets += step.tubelets
        return tubelets

    def _judge(self, tubelets: list[Tubelet]) -> list[Prediction]:
        if not tubelets:
            return []
        with self.timer.stage("recognize"):
            predictions = self.recognizer.predict(tubelets)
        before = len(self.alerts.events)
        for prediction in sorted(predictions, key=lambda p: (p.pts, p.camera, p.track_id)):
            self.alerts.on_prediction(prediction)
        for event in self.alerts.events[before:]:
            log.warning("incident %s on %s: %s (%s, score %.2f) at %.1f s", event.kind.value, event.camera,
                        event.incident_key, event.severity.value, event.score, event.pts)  # fmt: skip
            if self.metrics is not None:
                self.metrics.incidents.labels(event.camera, event.kind.value).inc()
        return predictions

    def _report(self, cameras: list[Camera], monitor: AnalysisMonitor) -> None:
        healths = monitor.check()  # also where a camera falling behind is logged, when nobody polls /healthz
        if self.metrics is None:
            return
        for camera in cameras:
            self.metrics.update_camera(camera, healths[camera.name], self.perception.gate_counts(camera.name))
        for stage, seconds in self.timer.seconds.items():
            # The timer accumulates; the histogram gets each stage's growth since the last report.
            grown = seconds - self._reported.get(stage, 0.0)
            if grown > 0:
                self.metrics.stage.labels(stage).observe(grown)
            self._reported[stage] = seconds

    @staticmethod
    def _camera_report(camera: Camera, hub: CameraHub) -> CameraReport:
        stats, counts = camera.stats, camera.counts
        error = hub.errors.get(camera.name)
        return CameraReport(camera.name, stats.decoded, counts.picked, counts.analysed, counts.skipped,
                            counts.dropped, stats.corrupt, stats.reconnects, str(error) if error else None)  # fmt: skip
