"""Several cameras in one process, each with its own bounded queue."""

import itertools
import threading
import time

import numpy as np
import pytest

from fallwatch.core.config import CameraConfig, IngestConfig
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Frame
from fallwatch.ingest.cameras import Camera, CameraHub, FrameCounts, FrameQueue


def test_two_files_in_one_hub_lose_no_frame(fall_clip: ManifestEntry, faststart_clip: ManifestEntry) -> None:
    ingest = IngestConfig(queue_size=2)  # tiny queues: files must block, not drop, nor adapt
    cameras = [
        Camera("a", CameraConfig(source=str(fall_clip.path)), ingest),
        Camera("b", CameraConfig(source=str(faststart_clip.path), crop=(100, 0, 400, 480)), ingest),
    ]
    seen: dict[str, list[Frame]] = {"a": [], "b": []}
    with CameraHub(cameras, adapt=True) as hub:
        for batch in hub.batches():
            assert len({f.camera for f in batch}) == len(batch)  # at most one frame per camera per batch
            for frame in batch:
                seen[frame.camera].append(frame)
    assert not hub.errors
    for camera, clip in zip(cameras, (fall_clip, faststart_clip), strict=True):
        frames = seen[camera.name]
        assert camera.stats.decoded == clip.frames
        assert camera.counts.skipped == 0 and camera.sampling_fps == 10
        assert len(frames) == camera.counts.picked
        # 10 analysed frames per second of stream time.
        assert abs(len(frames) - 10 * clip.frames / clip.fps) <= 3
        assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))
    assert seen["b"][0].image.shape == (480, 300, 3) and seen["b"][0].origin == (100, 0)


def _frame(index: int) -> Frame:
    return Frame("cam", index, index / 10, 0.0, np.zeros((2, 2, 3), dtype=np.uint8))


def test_live_queue_drops_the_oldest_and_counts() -> None:
    counts = FrameCounts()
    queue = FrameQueue(3, drop_oldest=True, counts=counts)
    stop = threading.Event()
    for i in range(1, 6):
        queue.put(_frame(i), stop)
    assert counts.dropped == 2 and counts.skipped == 2
    kept = [queue.get(0) for _ in range(3)]
    assert [f.index for f in kept if isinstance(f, Frame)] == [3, 4, 5]
    assert queue.get(0) is None


def test_file_queue_blocks_until_stopped() -> None:
    counts = FrameCounts()
    queue = FrameQueue(1, drop_oldest=False, counts=counts)
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
    assert counts.dropped == 0


def test_thinning_a_queue_keeps_evenly_spaced_frames_and_counts_the_rest() -> None:
    counts = FrameCounts()
    queue = FrameQueue(32, drop_oldest=True, counts=counts)
    stop = threading.Event()
    for i in range(1, 13):  # 1.1 s of frames at 10 fps
        queue.put(_frame(i), stop)
    assert queue.thin(period=0.3) == 8
    kept = [queue.get(0) for _ in range(4)]
    assert [f.pts for f in kept if isinstance(f, Frame)] == pytest.approx([0.1, 0.4, 0.7, 1.0])
    assert counts.adapted == 8 and counts.skipped == 8


@pytest.mark.live
@pytest.mark.slow
def test_a_live_camera_behind_a_slow_loop_lowers_its_rate_and_recovers(
    ffmpeg: str, fall_clip: ManifestEntry
) -> None:
    from tests.ingest.test_live import StreamServer, _free_port

    server = StreamServer(ffmpeg, fall_clip.path, _free_port())
    server.start()
    ingest = IngestConfig(fps=10, stall_timeout_s=5, reconnect_initial_s=0.2, reconnect_max_s=1)
    camera = Camera("live", CameraConfig(source=server.url), ingest)
    slow: list[Frame] = []
    lowest = camera.sampling_fps
    try:
        with CameraHub([camera], adapt=True) as hub:
            batches = hub.batches()
            started = time.monotonic()
            while time.monotonic() - started < 20:  # a loop that analyses 2 frames a second
                slow += next(batches)
                camera.counts.analysed += 1
                lowest = min(lowest, camera.sampling_fps)
                time.sleep(0.5)
            started = time.monotonic()
            while time.monotonic() - started < 40 and camera.sampling_fps < 10:  # headroom again
                next(batches)
                camera.counts.analysed += 1
            hub.request_stop()
            for batch in batches:
                camera.counts.analysed += len(batch)
    finally:
        server.kill()
    assert lowest < 4, "the rate should have come down to about what the loop keeps up with"
    assert camera.sampling_fps == 10, "with headroom the rate climbs back to the configured one"
    assert camera.counts.adapted > 0
    # Frames analysed while lowered are evenly spaced at the lower rate, not bursts of 10 fps with holes.
    late = [b.pts - a.pts for a, b in itertools.pairwise(slow[len(slow) // 2 :])]
    assert min(late) > 0.15, late
    counts = camera.counts
    assert counts.picked == counts.analysed + counts.skipped
