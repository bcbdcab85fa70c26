"""Several cameras in one process: a decode thread per camera feeding its own bounded queue.

Files block when their queue is full, so no frame is lost; live sources drop the oldest frame and count it, so a
slow analysis loop never makes a camera fall behind real time. `CameraHub.batches()` hands the analysis loop the
next frame of every camera that has one; with `adapt`, it also lowers a live camera's rate while its queue backs
up (see `AdaptiveRate`), so that evenly spaced frames are analysed rather than whole seconds lost.

Every frame the configured rate picks is counted once where it ends: analysed (the analysis loop says so),
dropped from a full queue, or skipped by adaptation; the rest are still queued.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fallwatch.core.config import CameraConfig, IngestConfig
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import Frame
from fallwatch.ingest.sampling import AdaptiveRate, RateSampler
from fallwatch.ingest.sources import FileSource, LiveSource, SourceStats, crop_image, open_source

log = logging.getLogger(__name__)

BACKLOG_S = 1.0  # a live queue holding more than this much of its own rate is backlogged: lower the rate
MIN_BACKLOG_FRAMES = 2  # ...and at least this many frames, so that one frame waiting at a low rate is not
HEADROOM_FRAMES = 1  # a live queue holding at most this many is waiting on its camera: raise the rate
ADAPT_EVERY_S = 1.0  # the rate controller's tick (wall seconds)


@dataclass
class FrameCounts:
    """Where the frames that the configured rate picked went: picked = analysed + dropped + adapted + queued.

    `picked` is written by the decode thread only, `analysed` by the analysis loop only, `dropped` and `adapted`
    under the queue's lock; anyone may read them.
    """

    picked: int = 0
    analysed: int = 0  # processed by the analysis loop (detector, tracker and recognizer done)
    dropped: int = 0  # evicted from a full live queue
    adapted: int = 0  # skipped because the rate was lowered under load

    @property
    def skipped(self) -> int:
        return self.dropped + self.adapted


class _End:
    """Put on a camera's queue when its decode thread finishes; carries the error that ended it, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class FrameQueue:
    """A bounded queue of frames; when full, `drop_oldest` decides between blocking and evicting."""

    def __init__(self, maxsize: int, drop_oldest: bool, counts: FrameCounts) -> None:
        self._items: deque[Frame | _End] = deque()
        self._maxsize = maxsize
        self._drop_oldest = drop_oldest
        self._counts = counts
        self._cond = threading.Condition()

    def put(self, item: Frame | _End, stop: threading.Event) -> None:
        with self._cond:
            while len(self._items) >= self._maxsize and not isinstance(item, _End):
                if self._drop_oldest:
                    self._items.popleft()
                    self._counts.dropped += 1
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

    def skip(self) -> None:
        """Counts a picked frame that adaptation skipped (under the lock `thin` counts under too)."""
        with self._cond:
            self._counts.adapted += 1

    def thin(self, period: float) -> int:
        """Removes queued frames closer than `period` stream seconds to the previous one kept, so that what is
        already waiting is as evenly spaced as what comes next at a lowered rate; returns how many."""
        with self._cond:
            kept: deque[Frame | _End] = deque()
            last: float | None = None
            for item in self._items:
                if isinstance(item, Frame):
                    if last is not None and item.pts < last + period * 0.95:
                        continue
                    last = item.pts
                kept.append(item)
            removed = len(self._items) - len(kept)
            self._items = kept
            self._counts.adapted += removed
            return removed

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class CameraProgress:
    name: str
    stats: SourceStats
    finished: bool = False


class Camera:
    """One source decoded on its own thread; frames picked at the configured rate go to its queue (for a live
    source, at the possibly lowered rate of `adaptive`)."""

    def __init__(
        self, name: str, config: CameraConfig, ingest: IngestConfig, connect_attempts: int | None = None
    ) -> None:
        self.name = name
        self.config = config
        self.source: FileSource | LiveSource = open_source(config.source, ingest, connect_attempts)
        self.stats = self.source.stats
        self.counts = FrameCounts()
        self.sampler = RateSampler(config.fps or ingest.fps)
        self.adaptive = AdaptiveRate(config.fps or ingest.fps)
        self._lowered_sampler = RateSampler(config.fps or ingest.fps)
        self.queue = FrameQueue(ingest.queue_size, drop_oldest=self.source.live, counts=self.counts)
        self._dropped_at_tick = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"decode-{name}", daemon=True)

    @property
    def sampler_fps(self) -> float:
        """The configured analysis rate."""
        return 1.0 / self.sampler.period

    @property
    def sampling_fps(self) -> float:
        """The rate frames are queued at now: the configured one, or lower while adaptation holds it down."""
        return self.adaptive.fps

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
                if not self._pick(decoded.pts):
                    continue
                image, origin = crop_image(decoded.to_bgr(), self.config.crop, self.config.source)
                frame = Frame(self.name, decoded.index, decoded.pts, time.time(), image, origin)
                self.queue.put(frame, self._stop)
        except FallWatchError as exc:
            error = exc
        except Exception as exc:  # surfaced on the analysis thread, which decides what to do
            log.exception("%s: decode thread failed", self.name)
            error = exc
        finally:
            self.queue.put(_End(error), self._stop)

    def _pick(self, pts: float) -> bool:
        """Whether to queue the frame at `pts`: due at the configured rate, and at the lowered one if lowered."""
        if not self.sampler.keep(pts):
            return False
        self.counts.picked += 1
        # At the full rate the second sampler is bypassed, so adaptation can never cost a frame when idle.
        if self.adaptive.lowered and not self._lowered_sampler.keep(pts):
            self.queue.skip()
            return False
        return True

    def adapt(self) -> None:
        """One tick of the rate controller, fed by this camera's queue (the hub calls it about once a second)."""
        queued, dropped = len(self.queue), self.counts.dropped
        backlog = max(MIN_BACKLOG_FRAMES, self.adaptive.fps * BACKLOG_S)
        backlogged = dropped > self._dropped_at_tick or queued > backlog
        self._dropped_at_tick = dropped
        before = self.adaptive.fps
        after = self.adaptive.update(backlogged, headroom=queued <= HEADROOM_FRAMES)
        if after != before:
            self._lowered_sampler.set_rate(after)
        if after < before:
            self.queue.thin(1.0 / after)


class CameraHub:
    """Runs many cameras and yields, each time, the next queued frame of every camera that has one.

    With `adapt`, live cameras' rates follow what the loop that calls `batches()` keeps up with; files never
    adapt (they block instead, and lose nothing).
    """

    def __init__(self, cameras: list[Camera], adapt: bool = False, dynamic: bool = False) -> None:
        if not cameras and not dynamic:
            raise FallWatchError("no cameras to run (expected at least one enabled camera or --source)")
        self.cameras = list(cameras)
        self.states = {camera.name: CameraProgress(camera.name, camera.stats) for camera in cameras}
        self.errors: dict[str, BaseException] = {}
        self._adapt = adapt
        self._next_tick = time.monotonic() + ADAPT_EVERY_S

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

    def add(self, camera: Camera) -> None:
        """Start one more camera (a worker took its lease); a camera of the same name must have been removed."""
        if camera.name in self.states:
            raise FallWatchError(f"camera {camera.name} is already running here")
        self.cameras.append(camera)
        self.states[camera.name] = CameraProgress(camera.name, camera.stats)
        self.errors.pop(camera.name, None)
        camera.start()

    def retire(self, name: str) -> None:
        """Stop decoding one camera; what it had queued still comes out, then it counts as finished."""
        for camera in self.cameras:
            if camera.name == name:
                camera.stop()

    def remove(self, name: str) -> Camera | None:
        """Forget a finished camera (its name may be added again later)."""
        camera = next((c for c in self.cameras if c.name == name), None)
        if camera is not None:
            camera.join(timeout=5)
            self.cameras.remove(camera)
        self.states.pop(name, None)
        return camera

    def batches(
        self, poll_s: float = 0.05, keep_open: Callable[[], bool] | None = None
    ) -> Iterator[list[Frame]]:
        """Lists of frames, at most one per camera, until every camera has finished.

        With `keep_open`, the hub runs on while it says so, even with no camera (a worker waiting for leases), and
        yields every `poll_s` even when no frame came, so that its caller can add and retire cameras."""
        while True:
            running = not all(state.finished for state in self.states.values())
            if not running and (keep_open is None or not keep_open()):
                return
            batch = self._collect(poll_s) if running else []
            if not running:
                time.sleep(poll_s)
            if batch or keep_open is not None:
                yield batch

    def _collect(self, poll_s: float) -> list[Frame]:
        batch: list[Frame] = []
        waiting = [c for c in self.cameras if not self.states[c.name].finished]
        self._tick(waiting)
        # Poll without waiting first, so one idle camera never delays the others' frames.
        for camera in waiting:
            item = camera.queue.get(timeout=0)
            self._take(camera, item, batch)
        if not batch and waiting:
            # Nothing ready anywhere: wait on one camera, rotating, so an idle loop sleeps instead of spinning.
            camera = waiting[int(time.monotonic() / poll_s) % len(waiting)]
            self._take(camera, camera.queue.get(timeout=poll_s), batch)
        return batch

    def _tick(self, running: list[Camera]) -> None:
        # On the analysis loop's thread, so each tick sees the queues as this loop is draining them.
        now = time.monotonic()
        if not self._adapt or now < self._next_tick:
            return
        self._next_tick = now + ADAPT_EVERY_S
        for camera in running:
            if camera.live:
                camera.adapt()

    def _take(self, camera: Camera, item: Frame | _End | None, batch: list[Frame]) -> None:
        if isinstance(item, Frame):
            batch.append(item)
        elif isinstance(item, _End):
            self.states[camera.name].finished = True
            if item.error is not None:
                self.errors[camera.name] = item.error
