"""Motion gating on real footage: still frames reuse the last detections (at a keep-alive rate), a fall is
always detected, a person lying still stays tracked, masked movement does not count."""

from __future__ import annotations

import numpy as np
import pytest

from fallwatch.core.config import MotionConfig, Settings, load_settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Frame
from fallwatch.detectors.motion import MotionGate
from fallwatch.detectors.perception import Perception
from fallwatch.detectors.person import PersonDetector
from fallwatch.ingest.sources import FileSource

STAYS_DOWN = "public/taufeeque9__HumanFallDetection/dataset/Activity1/Subject1/Trial1Cam1.mp4"


def clip_frames(entry: ManifestEntry, every: int = 2) -> list[Frame]:
    decoded = FileSource(entry.path).frames()
    return [Frame("cam", d.index, d.pts, 0.0, d.to_bgr()) for d in decoded if (d.index - 1) % every == 0]


def test_a_still_scene_runs_the_detector_only_at_the_keepalive_rate(fall_clip: ManifestEntry) -> None:
    first = clip_frames(fall_clip)[0]
    gate = MotionGate(MotionConfig(keepalive_s=1.0))
    still = [Frame("cam", i + 1, i * 0.1, 0.0, first.image) for i in range(50)]  # 5 s of one real frame
    ran = [f.pts for f in still if gate.needs_detection(f)]
    assert ran == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0])
    assert (gate.counts.detected, gate.counts.skipped) == (5, 45)
    assert all(MotionGate(MotionConfig(enabled=False)).needs_detection(f) for f in still[:5])


def test_every_frame_of_the_descent_is_detected(fall_clip: ManifestEntry) -> None:
    # GMDCSA24's fall interval runs on while the person lies still; its first second is the descent itself.
    assert fall_clip.fall_start_s is not None
    gate = MotionGate(MotionConfig())
    decisions = [(f.pts, gate.needs_detection(f)) for f in clip_frames(fall_clip)]
    start = fall_clip.fall_start_s
    descent = [needed for pts, needed in decisions if start <= pts <= start + 1.0]
    assert len(descent) >= 5 and all(descent)


def test_movement_inside_a_mask_does_not_count(fall_clip: ManifestEntry) -> None:
    frame = clip_frames(fall_clip)[0]
    moved = np.array(frame.image)
    moved[100:200, 100:200] = 255 - moved[100:200, 100:200]  # a television changing picture
    square = [(90.0, 90.0), (210.0, 90.0), (210.0, 210.0), (90.0, 210.0)]
    later = Frame("cam", 2, 0.1, 0.0, moved)
    unmasked, masked = MotionGate(MotionConfig()), MotionGate(MotionConfig(masks=[square]))
    for gate in (unmasked, masked):
        gate.needs_detection(frame)
    assert unmasked.needs_detection(later) and not masked.needs_detection(later)


@pytest.mark.slow
def test_a_person_who_falls_and_lies_still_stays_tracked(
    settings: Settings, detector: PersonDetector, manifest: list[ManifestEntry]
) -> None:
    entry = next(e for e in manifest if e.relative == STAYS_DOWN)
    frames = [Frame("bed", f.index, f.pts, 0.0, f.image) for f in clip_frames(entry, every=1)]
    seen = {}
    for gated in (True, False):
        run = settings.model_copy(update={"motion": MotionConfig(enabled=gated)})
        perception = Perception(run, detector)
        steps = [step for frame in frames for step in perception.process([frame])]
        after_fall = [s for s in steps if s.frame.pts > (entry.fall_end_s or 0.0)]
        seen[gated] = sum(bool(s.tracks) for s in after_fall) / len(after_fall)
        counts = perception.gate_counts("bed")
        if gated:
            assert counts.skipped > 0 and counts.detected < len(frames)
    assert seen[True] >= 0.95 and seen[True] >= seen[False] - 0.02


def test_a_mask_that_is_not_a_polygon_is_one_line() -> None:
    with pytest.raises(
        FallWatchError,
        match=r"motion\.masks: Value error, mask 0: a zone polygon needs|motion\.masks: mask 0",
    ):
        load_settings(motion={"masks": [[[0, 0], [1, 1]]]})
