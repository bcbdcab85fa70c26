"""The YOLO pose adapter on real frames."""

from pathlib import Path

import numpy as np
import pytest

from fallwatch.core.config import load_settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Frame
from fallwatch.detectors.person import PersonDetector
from fallwatch.ingest.sources import FileSource, crop_image


def _frames(clip: ManifestEntry, every: int = 10, count: int = 4) -> list[Frame]:
    frames = []
    for decoded in FileSource(clip.path).frames():
        if decoded.index % every == 1 and len(frames) < count:
            frames.append(Frame("cam", decoded.index, decoded.pts, 0.0, decoded.to_bgr()))
    return frames


def test_finds_the_person_with_keypoints(detector: PersonDetector, fall_clip: ManifestEntry) -> None:
    frames = _frames(fall_clip)
    batches = detector.detect(frames)
    assert len(batches) == len(frames)
    people = [found[0] for found in batches if found]
    assert len(people) >= 3
    for person in people:
        x1, y1, x2, y2 = person.xyxy
        assert 0 <= x1 < x2 <= fall_clip.width and 0 <= y1 < y2 <= fall_clip.height
        assert person.keypoints is not None and person.keypoints.shape == (17, 3)
        visible = person.keypoints[person.keypoints[:, 2] > 0.5]
        assert len(visible) >= 5
        # Confident keypoints lie on the person, inside the box (with a little slack).
        assert ((visible[:, 0] >= x1 - 10) & (visible[:, 0] <= x2 + 10)).all()


def test_boxes_on_a_cropped_region_come_back_in_source_pixels(
    detector: PersonDetector, fall_clip: ManifestEntry
) -> None:
    frame = _frames(fall_clip, count=1)[0]
    full = detector.detect([frame])[0][0]
    x1, y1, x2, y2 = (int(v) for v in full.xyxy)
    crop = (max(x1 - 60, 0), max(y1 - 60, 0), min(x2 + 60, fall_clip.width), min(y2 + 60, fall_clip.height))
    region, origin = crop_image(np.array(frame.image), crop, "clip")
    cropped = detector.detect([Frame("cam", 1, 0.0, 0.0, region, origin)])[0][0]
    assert np.allclose(cropped.xyxy, full.xyxy, atol=12)
    assert cropped.keypoints is not None and full.keypoints is not None
    confident = (cropped.keypoints[:, 2] > 0.5) & (full.keypoints[:, 2] > 0.5)
    assert np.allclose(cropped.keypoints[confident, :2], full.keypoints[confident, :2], atol=12)


def test_restores_torch_threads_after_ultralytics_setup(detector: PersonDetector) -> None:
    import torch

    assert torch.get_num_threads() == detector._threads


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_wrong_weights_file_is_refused_clearly(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    settings = load_settings(data_dir=tmp_path, detector={"weights": bad})
    with pytest.raises(FallWatchError) as info:
        PersonDetector(settings.detector, settings)
    assert str(bad) in str(info.value) and "expected YOLO pose weights" in str(info.value)
