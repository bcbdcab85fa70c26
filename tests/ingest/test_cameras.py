"""Several cameras in one process, each with its own bounded queue."""

import itertools
import threading

import numpy as np

from fallwatch.core.config import CameraConfig, IngestConfig
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Frame
from fallwatch.ingest.cameras import Camera, CameraHub, FrameQueue
from fallwatch.ingest.sources import SourceStats


def test_two_files_in_one_hub_lose_no_frame(fall_clip: ManifestEntry, faststart_clip: ManifestEntry) -> None:
    ingest = IngestConfig(queue_size=2)  # tiny queues: files must block, not drop
    cameras = [
        Camera("a", CameraConfig(source=str(fall_clip.path)), ingest),
        Camera("b", CameraConfig(source=str(faststart_clip.path), crop=(100, 0, 400, 480)), ingest),
    ]
    seen: dict[str, list[Frame]] = {"a": [], "b": []}
    with CameraHub(cameras) as hub:
        for batch in hub.batches():
            assert len({f.camera for f in batch}) == len(batch)  # at most one frame per camera per batch
            for frame in batch:
                seen[frame.camera].append(frame)
    assert not hub.errors
    for camera, clip in zip(cameras, (fall_clip, faststart_clip), strict=True):
        frames = seen[camera.name]
        assert camera.stats.decoded == clip.frames
        assert camera.stats.dropped == 0
        assert len(frames) == camera.stats.analysed
        # 10 analysed frames per second of stream time.
        assert abs(len(frames) - 10 * clip.frames / clip.fps) <= 3
        assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))
    assert seen["b"][0].image.shape == (480, 300, 3) and seen["b"][0].origin == (100, 0)


def _frame(index: int) -> Frame:
    return Frame("cam", index, index / 10, 0.0, np.zeros((2, 2, 3), dtype=np.uint8))


def test_live_queue_drops_the_oldest_and_counts() -> None:
    stats = SourceStats()
    queue = FrameQueue(3, drop_oldest=True, stats=stats)
    stop = threading.Event()
    for i in range(1, 6):
        queue.put(_frame(i), stop)
    assert stats.dropped == 2
    kept = [queue.get(0) for _ in range(3)]
    assert [f.index for f in kept if isinstance(f, Frame)] == [3, 4, 5]
    assert queue.get(0) is None


def test_file_queue_blocks_until_stopped() -> None:
    stats = SourceStats()
    queue = FrameQueue(1, drop_oldest=False, stats=stats)
    stop = threading.Event()
    queue.put(_frame(1), stop)
    done = threading.Event()

    def producer() -> None:
        queue.put(_frame(2), stop)
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    assert not done.wait(0.3)  # blocked: the queue is full
    first = queue.get(0)
    assert isinstance(first, Frame) and first.index == 1
    assert done.wait(2)
    thread.join()
    assert stats.dropped == 0
