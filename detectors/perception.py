"""The front half of the pipeline: frames of many cameras -> detections -> tracks -> tubelets.

One detector serves every camera (one batch per step); each camera has its own tracker and tubelet builder.
`fallwatch track`, `fallwatch run`, `fallwatch eval` and the benchmarks all go through this one class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fallwatch.core.config import Settings
from fallwatch.core.timing import StageTimer
from fallwatch.core.types import Detection, Frame, Track, Tubelet
from fallwatch.detectors.embedding import make_embedder
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

    def _camera(self, name: str) -> tuple[PersonTracker, TubeletBuilder]:
        if name not in self._trackers:
            embedder = make_embedder(
                self.settings.tracker.embedder, gpu=self.detector.device.startswith("cuda")
            )
            self._trackers[name] = PersonTracker(name, self.settings.tracker, embedder, timer=self.timer)
            self._builders[name] = TubeletBuilder(name, self.settings.tubelets)
        return self._trackers[name], self._builders[name]

    def process(self, frames: list[Frame]) -> list[PerceptionStep]:
        """Detects on all frames as one batch, then tracks and builds tubelets camera by camera."""
        with self.timer.stage("detect"):
            detections = self.detector.detect(frames)
        steps = []
        for frame, found in zip(frames, detections, strict=True):
            tracker, builder = self._camera(frame.camera)
            update = tracker.update(frame, found)
            with self.timer.stage("tubelets"):
                tubelets = builder.add(frame, update.tracks) + builder.end(update.ended)
            steps.append(PerceptionStep(frame, found, update.tracks, update.ended, tubelets))
        return steps

    def finish(self, camera: str) -> list[Tubelet]:
        """The camera's source ended: end its tracks and flush their tubelets."""
        if camera not in self._trackers:
            return []
        tracker, builder = self._trackers.pop(camera), self._builders.pop(camera)
        return builder.end(tracker.end_all()) + builder.end_all()
