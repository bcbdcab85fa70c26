"""The front half of the pipeline: frames of many cameras -> detections -> tracks -> tubelets.

One detector serves every camera (one batch per step, of the frames whose camera saw motion); each camera has
its own motion gate, tracker and tubelet builder. `fallwatch track`, `fallwatch run`, `fallwatch eval` and the
benchmarks all go through this one class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fallwatch.core.config import MotionConfig, Settings
from fallwatch.core.timing import StageTimer
from fallwatch.core.types import Detection, Frame, Track, Tubelet
from fallwatch.detectors.embedding import make_embedder
from fallwatch.detectors.motion import GateCounts, MotionGate
from fallwatch.detectors.person import PersonDetector
from fallwatch.detectors.tracker import PersonTracker
from fallwatch.detectors.tubelets import TubeletBuilder


@dataclass(frozen=True, slots=True)
class PerceptionStep:
    """What one analysed frame of one camera produced."""

    frame: Frame
    detections: list[Detection]
    tracks: list[Track]
    ended: list[int]
    tubelets: list[Tubelet] = field(default_factory=list)


class Perception:
    def __init__(
        self, settings: Settings, detector: PersonDetector | None = None, timer: StageTimer | None = None
    ) -> None:
        self.settings = settings
        self.detector = detector or PersonDetector(settings.detector, settings)
        self.timer = timer or StageTimer()
        self._trackers: dict[str, PersonTracker] = {}
        self._builders: dict[str, TubeletBuilder] = {}
        self._gates: dict[str, MotionGate] = {}
        self._counts: dict[str, GateCounts] = {}  # a few integers a camera, kept for the run's report
        self._last: dict[str, list[Detection]] = {}

    def motion_config(self, camera: str) -> MotionConfig:
        """The camera's own motion settings, else the global ones."""
        configured = self.settings.cameras.get(camera)
        return configured.motion if configured is not None and configured.motion else self.settings.motion

    def gate_counts(self, camera: str) -> GateCounts:
        """How often the camera's detector ran and was spared, over the whole run (kept after its end)."""
        return self._counts.setdefault(camera, GateCounts())

    def _camera(self, name: str) -> tuple[PersonTracker, TubeletBuilder]:
        if name not in self._trackers:
            embedder = make_embedder(
                self.settings.tracker.embedder, gpu=self.detector.device.startswith("cuda")
            )
            self._trackers[name] = PersonTracker(name, self.settings.tracker, embedder, timer=self.timer)
            self._builders[name] = TubeletBuilder(name, self.settings.tubelets)
        return self._trackers[name], self._builders[name]

    def process(self, frames: list[Frame]) -> list[PerceptionStep]:
        """Detects on the frames that need it as one batch, then tracks and builds tubelets camera by camera."""
        detections = self._detect(frames)
        steps = []
        for frame, found in zip(frames, detections, strict=True):
            tracker, builder = self._camera(frame.camera)
            update = tracker.update(frame, found)
            with self.timer.stage("tubelets"):
                tubelets = builder.add(frame, update.tracks) + builder.end(update.ended)
            steps.append(PerceptionStep(frame, found, update.tracks, update.ended, tubelets))
        return steps

    def _detect(self, frames: list[Frame]) -> list[list[Detection]]:
        """Fresh detections where the gate asks for them, the camera's last ones where nothing moved."""
        with self.timer.stage("motion"):
            due = [self._gate(frame.camera).needs_detection(frame) for frame in frames]
        with self.timer.stage("detect"):
            fresh = iter(self.detector.detect([f for f, d in zip(frames, due, strict=True) if d]))
        detections = []
        for frame, needed in zip(frames, due, strict=True):
            if needed:
                self._last[frame.camera] = next(fresh)
            detections.append(self._last[frame.camera])
        return detections

    def _gate(self, camera: str) -> MotionGate:
        if camera not in self._gates:
            self._gates[camera] = MotionGate(self.motion_config(camera), self.gate_counts(camera))
        return self._gates[camera]

    def finish(self, camera: str) -> list[Tubelet]:
        """The camera's source ended: end its tracks and flush their tubelets."""
        self._gates.pop(camera, None)
        self._last.pop(camera, None)
        if camera not in self._trackers:
            return []
        tracker, builder = self._trackers.pop(camera), self._builders.pop(camera)
        return builder.end(tracker.end_all()) + builder.end_all()
