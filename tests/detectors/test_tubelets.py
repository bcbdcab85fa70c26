import numpy as np
import pytest

from fallwatch.core.config import TubeletConfig
from fallwatch.core.types import Frame, Track
from fallwatch.detectors.tubelets import TubeletBuilder, crop_square, square_around


def _frame(index: int, image: np.ndarray | None = None, origin: tuple[int, int] = (0, 0)) -> Frame:
    if image is None:
        image = np.zeros((120, 160, 3), dtype=np.uint8)
    return Frame("cam", index, index / 10, 0.0, image, origin)


def _track(track_id: int, box: tuple[float, float, float, float] = (40, 20, 60, 100)) -> Track:
    return Track("cam", track_id, box, 0.9, None, age=1, hits=1)


def test_square_holds_the_box_with_margin() -> None:
    cx, cy, side = square_around((40, 20, 60, 100), margin=0.25)
    assert (cx, cy) == (50, 60) and side == pytest.approx(80 * 1.5)


def test_crop_is_centred_on_the_person_and_pads_outside_black() -> None:
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[20:100, 40:60] = 255  # the "person"
    crop = crop_square(image, (0, 0), (40, 20, 60, 100), margin=0.25, size=60)
    assert crop.shape == (60, 60, 3)
    # The person is 80 px tall in a 120 px square: two thirds of the crop height, centred.
    rows = np.where(crop[:, :, 0].max(axis=1) > 127)[0]
    cols = np.where(crop[:, :, 0].max(axis=0) > 127)[0]
    assert rows.min() == pytest.approx(10, abs=1) and rows.max() == pytest.approx(49, abs=1)
    assert cols.mean() == pytest.approx(29.5, abs=1)
    corner = crop_square(image, (0, 0), (0, 0, 20, 20), margin=0.5, size=40)
    assert corner[:5, :5].max() == 0  # outside the image


def test_crop_honours_the_region_origin() -> None:
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[20:100, 40:60] = 255
    direct = crop_square(image, (0, 0), (40, 20, 60, 100), 0.25, 60)
    region = np.ascontiguousarray(image[10:, 30:])
    shifted = crop_square(region, (30, 10), (40, 20, 60, 100), 0.25, 60)
    assert np.array_equal(direct, shifted)


def test_emits_when_full_then_every_stride() -> None:
    builder = TubeletBuilder("cam", TubeletConfig(frames=4, size=32, stride=2))
    emitted = [len(builder.add(_frame(i), [_track(1)])) for i in range(1, 11)]
    assert emitted == [0, 0, 0, 1, 0, 1, 0, 1, 0, 1]
    tubelet = builder.add(_frame(11), [_track(1)]) or builder.add(_frame(12), [_track(1)])
    assert tubelet[0].frames.shape == (4, 32, 32, 3)
    assert tubelet[0].pts.tolist() == pytest.approx([0.9, 1.0, 1.1, 1.2])
    assert np.isnan(tubelet[0].keypoints).all()  # no keypoints were given


def test_ended_tracks_are_flushed_and_freed() -> None:
    builder = TubeletBuilder("cam", TubeletConfig(frames=4, size=32, stride=4))
    for i in range(1, 6):
        builder.add(_frame(i), [_track(1), _track(2)] if i <= 2 else [_track(1)])
    assert builder.active_tracks == 2
    flushed = builder.end([1, 2])
    # Track 1 had a frame since its last tubelet: flushed. Track 2 had 2 frames (half a tubelet): padded.
    assert sorted(t.track_id for t in flushed) == [1, 2]
    padded = next(t for t in flushed if t.track_id == 2)
    assert padded.pts.tolist() == pytest.approx([0.1, 0.1, 0.1, 0.2])
    assert builder.active_tracks == 0
    assert builder.end([1]) == []


def test_memory_stays_bounded_over_many_tracks() -> None:
    builder = TubeletBuilder("cam", TubeletConfig(frames=8, size=32, stride=4))
    for track_id in range(1, 2001):
        for i in range(3):
            builder.add(_frame(track_id * 3 + i + 1), [_track(track_id)])
        builder.end([track_id])
    assert builder.active_tracks == 0
