"""Several cameras in one process: a decode thread per camera feeding its own bounded queue.

Files block when their queue is full, so no frame is lost; live sources drop the oldest frame and count it, so a
slow analysis loop never makes a camera fall behind real time. `CameraHub.batches()` hands the analysis loop the
next frame of every camera that has one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from fallwatch.core.config import CameraConfig, IngestConfig
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import Frame
from fallwatch.ingest.sampling import RateSampler
from fallwatch.ingest.sources import FileSource, LiveSource, SourceStats, crop_image, open_source

log = logging.getLogger(__name__)


class _End:
    """Put on a camera's queue when its decode thread finishes; carries the error that ended it, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class FrameQueue:
    """A bounded queue of frames; when full, `drop_oldest` decides between blocking and evicting."""

    def __init__(self, maxsize: int, drop_oldest: bool, stats: SourceStats) -> None:
        self._items: deque[Frame | _End] = deque()
        self._maxsize = maxsize
        self._drop_oldest = drop_oldest
        self._stats = stats
        self._cond = threading.Condition()

    def put(self, item: Frame | _End, stop: threading.Event) -> None:
        with self._cond:
            while len(self._items) >= self._maxsize and not isinstance(item, _End):
                if self._drop_oldest:
                    self._items.popleft()
                    self._stats.dropped += 1
                    break
                if stop.is_set():
                    return
                self._cond.wait(0.1)
            self._items.append(item)
            self._cond.notify_all()

    def get(self, timeout: float) -> Frame | _End | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class CameraProgress:
    name: str
    stats: SourceStats
    finished: bool = False


class Camera:
    """One source decoded on its own thread; analysed frames go to its queue at the configured rate."""

    def __init__(
        self, name: str, config: CameraConfig, ingest: IngestConfig, connect_attempts: int | None = None
    ) -> None:
        self.name = name
        self.config = config
        self.source: FileSource | LiveSource = open_source(config.source, ingest, connect_attempts)
        self.stats = self.source.stats
        self.sampler = RateSampler(config.fps or ingest.fps)
        self.queue = FrameQueue(ingest.queue_size, drop_oldest=self.source.live, stats=self.stats)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{name}", daemon=True)

    @property
    def sampler_fps(self) -> float:
        return 1.0 / self.sampler.period

    @property
    def live(self) -> bool:
        return self.source.live

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            for decoded in self.source.frames(self._stop):
                if not self.sampler.keep(decoded.pts):
                    continue
                image, origin = crop_image(decoded.to_bgr(), self.config.crop, self.config.source)
                frame = Frame(self.name, decoded.index, decoded.pts, time.time(), image, origin)
                self.stats.analysed += 1
                self.queue.put(frame, self._stop)
        except FallWatchError as exc:
            error = exc
        except Exception as exc:  # surfaced on the analysis thread, which decides what to do
            log.exception("%s: decode thread failed", self.name)
            error = exc
        finally:
            self.queue.put(_End(error), self._stop)


class CameraHub:
    """Runs many cameras and yields, each time, the next analysed frame of every camera that has one."""

    def __init__(self, cameras: list[Camera]) -> None:
        if not cameras:
            raise FallWatchError("no cameras to run (expected at least one enabled camera or --source)")
        self.cameras = cameras
        self.states = {camera.name: CameraProgress(camera.name, camera.stats) for camera in cameras}
        self.errors: dict[str, BaseException] = {}

    def __enter__(self) -> CameraHub:
        for camera in self.cameras:
            camera.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.request_stop()
        for camera in self.cameras:
            camera.join(timeout=5)

    def request_stop(self) -> None:
        """Stops decoding; frames already queued still come out of `batches()`, which then ends."""
        for camera in self.cameras:
            camera.stop()

    def finished(self) -> list[str]:
        return [name for name, state in self.states.items() if state.finished]

    def batches(self, poll_s: float = 0.05) -> Iterator[list[Frame]]:
        """Lists of frames, at most one per camera, until every camera has finished."""
        while not all(state.finished for state in self.states.values()):
            batch = self._collect(poll_s)
            if batch:
                yield batch

    def _collect(self, poll_s: float) -> list[Frame]:
        batch: list[Frame] = []
        waiting = [c for c in self.cameras if not self.states[c.name].finished]
        # Poll without waiting first, so one idle camera never delays the others' frames.
        for camera in waiting:
            item = camera.queue.get(timeout=0)
            self._take(camera, item, batch)
        if not batch and waiting:
            # Nothing ready anywhere: wait on one camera, rotating, so an idle loop sleeps instead of spinning.
            camera = waiting[int(time.monotonic() / poll_s) % len(waiting)]
            self._take(camera, camera.queue.get(timeout=poll_s), batch)
        return batch

    def _take(self, camera: Camera, item: Frame | _End | None, batch: list[Frame]) -> None:
        if isinstance(item, Frame):
            batch.append(item)
        elif isinstance(item, _End):
            self.states[camera.name].finished = True
            if item.error is not None:
                self.errors[camera.name] = item.error
