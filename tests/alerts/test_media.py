"""Evidence from real video: frames decoded from a GMDCSA24 clip, a snapshot and a clip written and decoded back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fallwatch.alerts.media import EvidenceRecorder
from fallwatch.alerts.retention import prune
from fallwatch.core.config import MediaConfig
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Frame
from fallwatch.ingest.video_writer import pick_codec


def frames(clip: Path, camera: str = "hall", every: int = 1) -> Iterator[Frame]:
    """Decoded frames of a real clip (every `every`-th), as the sources stage hands them over."""
    with av.open(str(clip)) as container:
        for index, video in enumerate(container.decode(video=0), start=1):
            if index % every == 0:
                image = np.asarray(video.to_ndarray(format="bgr24"), dtype=np.uint8)
                yield Frame(camera, index, float(video.time or 0.0), time.time(), image)


def decoded(path: Path) -> tuple[str, list[float], tuple[int, int]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.time or 0.0) for f in container.decode(stream)]
        return stream.codec_context.name, times, (stream.codec_context.width, stream.codec_context.height)


def test_snapshot_and_clip_with_pre_and_post_roll_from_a_real_clip(
    tmp_path: Path, fall_clip: ManifestEntry
) -> None:
    config = MediaConfig(pre_roll_s=4.0, post_roll_s=3.0, buffer_frames=120)
    recorder = EvidenceRecorder(config, tmp_path)
    refs, finished, opened_at = None, [], 0.0
    for frame in frames(fall_clip.path, every=2):  # about 7.5 analysed frames a second
        finished += recorder.push(frame)
        if refs is None and frame.pts >= 6.0:
            opened_at = frame.pts
            refs = recorder.start("run1:hall/3/6.000", "hall", frame.pts, datetime(2025, 3, 1, tzinfo=UTC))
    assert refs is not None and refs.snapshot == "hall/2025-03-01/run1_hall_3_6.000.jpg"
    assert finished == ["run1:hall/3/6.000"]  # closed by the first frame after the post-roll

    snapshot = cv2.imread(str(tmp_path / refs.snapshot))
    assert snapshot is not None and snapshot.shape == (480, 640, 3)
    assert refs.clip is not None
    codec, times, size = decoded(tmp_path / refs.clip)
    expected_codec = "h264" if pick_codec() in ("libx264", "h264") else "mpeg4"
    assert codec == expected_codec and size == (640, 480)
    assert times[0] == pytest.approx(0.0, abs=1e-3)
    assert times[-1] - times[0] == pytest.approx(config.pre_roll_s + config.post_roll_s, abs=0.3)
    assert len(times) == pytest.approx((config.pre_roll_s + config.post_roll_s) * 7.5, abs=3)
    assert opened_at >= 6.0
    assert not list(tmp_path.rglob(".*.part"))  # written under a temporary name, renamed into place


def test_the_ring_buffer_is_bounded_and_end_of_stream_closes_the_clip(
    tmp_path: Path, fall_clip: ManifestEntry
) -> None:
    config = MediaConfig(pre_roll_s=10.0, post_roll_s=30.0, buffer_frames=10)
    recorder = EvidenceRecorder(config, tmp_path)
    refs = None
    for frame in frames(fall_clip.path, "porch", every=3):
        recorder.push(frame)
        if refs is None and frame.pts >= 8.0:
            refs = recorder.start("porch/1/8.000", "porch", frame.pts, datetime(2025, 3, 1, tzinfo=UTC))
    assert refs is not None and refs.clip is not None
    assert not (tmp_path / refs.clip).exists()  # the post-roll is longer than the video: still recording
    assert recorder.finish() == ["porch/1/8.000"]
    _, times, _ = decoded(tmp_path / refs.clip)
    assert len(times) >= 10  # the 10 buffered frames of the pre-roll, then the rest of the video
    # The pre-roll is cut to what the bounded buffer held (10 frames, about 2 s).
    assert times[-1] - times[0] < 10.0 + 5.0


def test_retention_removes_old_evidence_then_the_oldest_over_the_budget(tmp_path: Path) -> None:
    now = time.time()
    ages_days = {"a.mp4": 40, "b.jpg": 20, "c.mp4": 10, "d.jpg": 1}
    for name, age in ages_days.items():
        path = tmp_path / "hall" / "2025-01-01" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000)
        os.utime(path, (now - age * 86400, now - age * 86400))
    report = prune(tmp_path, max_age_s=30 * 86400, budget_bytes=2000, now=now)
    left = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["c.mp4", "d.jpg"]  # a.mp4 too old; b.jpg oldest over the 2000-byte budget
    assert (report.deleted, report.freed_bytes, report.kept_bytes) == (2, 2000, 2000)
    prune(tmp_path, max_age_s=0.5 * 86400, budget_bytes=10**9, now=now)
    assert not (tmp_path / "hall").exists()  # emptied folders go too
