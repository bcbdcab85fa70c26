import numpy as np
import pytest

from fallwatch.core.types import (
    LABELS,
    Detection,
    EventKind,
    Frame,
    IncidentEvent,
    Motion,
    Prediction,
    Severity,
    Track,
    Tubelet,
)


def _image() -> np.ndarray:
    return np.zeros((4, 6, 3), dtype=np.uint8)


def test_frame_image_is_frozen_and_caller_buffer_untouched() -> None:
    image = _image()
    frame = Frame("cam", 1, 0.0, 0.0, image)
    assert not frame.image.flags.writeable
    assert image.flags.writeable  # the caller's own array is not frozen under them
    with pytest.raises(ValueError):
        frame.image[0, 0, 0] = 1
    assert frame.size == (6, 4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"index": 0}, "1-based"),
        ({"camera": ""}, "camera"),
        ({"pts": float("nan")}, "finite"),
        ({"image": np.zeros((4, 6), dtype=np.uint8)}, "shape"),
    ],
)
def test_frame_rejects_bad_values(kwargs: dict, message: str) -> None:
    args = {"camera": "cam", "index": 1, "pts": 0.0, "wall": 0.0, "image": _image()} | kwargs
    with pytest.raises(ValueError, match=message):
        Frame(**args)


def test_detection_validates_box_score_and_keypoints() -> None:
    Detection((0, 0, 10, 20), 0.5, np.zeros((17, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="x2 >= x1"):
        Detection((10, 0, 0, 20), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Detection((0, 0, 10, 20), 1.5)
    with pytest.raises(ValueError, match="17, 3"):
        Detection((0, 0, 10, 20), 0.5, np.zeros((5, 3), dtype=np.float32))


def test_track_requires_positive_age_and_hits() -> None:
    with pytest.raises(ValueError, match="age and hits"):
        Track("cam", 1, (0, 0, 1, 1), 0.5, None, age=0, hits=1)


def test_tubelet_shapes_must_agree() -> None:
    t = 4
    frames = np.zeros((t, 8, 8, 3), dtype=np.uint8)
    boxes = np.zeros((t, 4), dtype=np.float32)
    keypoints = np.full((t, 17, 3), np.nan, dtype=np.float32)
    pts = np.arange(t, dtype=np.float32)
    tubelet = Tubelet("cam", 1, 0.0, 3.0, frames, boxes, keypoints, pts)
    assert tubelet.length == 4 and tubelet.size == 8
    with pytest.raises(ValueError, match="boxes"):
        Tubelet("cam", 1, 0.0, 3.0, frames, boxes[:3], keypoints, pts)
    with pytest.raises(ValueError, match="before"):
        Tubelet("cam", 1, 3.0, 0.0, frames, boxes, keypoints, pts)


def test_prediction_needs_every_label_and_a_distribution() -> None:
    scores = {"normal": 0.2, "falling": 0.7, "lying": 0.1}
    prediction = Prediction("cam", 1, 1.0, scores, (0, 0, 1, 1))
    assert prediction.label == "falling"
    assert set(prediction.scores) == set(LABELS)
    with pytest.raises(ValueError, match="exactly the labels"):
        Prediction("cam", 1, 1.0, {"normal": 1.0}, (0, 0, 1, 1))
    with pytest.raises(ValueError, match="sum to 1"):
        Prediction("cam", 1, 1.0, {"normal": 0.5, "falling": 0.7, "lying": 0.1}, (0, 0, 1, 1))


def test_incident_event_coerces_enums() -> None:
    event = IncidentEvent("opened", "cam:1:1", "cam", 1, 2.0, "critical", 0.9)  # type: ignore[arg-type]
    assert event.kind is EventKind.OPENED and event.severity is Severity.CRITICAL
    with pytest.raises(ValueError):
        IncidentEvent("exploded", "k", "cam", 1, 2.0, "warning", 0.9)  # type: ignore[arg-type]


def test_motion_measures_how_far_the_box_came_down_and_how_fast_it_travelled() -> None:
    pts = np.linspace(0.0, 1.5, 16)
    standing = np.tile(np.array([100.0, 100.0, 160.0, 300.0]), (16, 1))
    assert Motion.of(standing, pts) == Motion(0.0, 0.0)
    falling = standing.copy()
    falling[8:, 1] = np.linspace(100.0, 220.0, 8)  # the top comes down 120 px of a 200 px person
    assert Motion.of(falling, pts).descent == pytest.approx(0.6)
    walking = standing + np.outer(pts, [200.0, 0.0, 200.0, 0.0])  # 200 px a second, a 200 px box
    moved = Motion.of(walking, pts)
    assert moved.descent == 0.0 and moved.speed == pytest.approx(1.0)
    assert Motion.of(walking[:3], pts[:3]).speed == 0.0  # 0.2 s: too short to tell a pace
    assert Motion.of(np.zeros((0, 4)), np.zeros(0)) == Motion(0.0, 0.0)


def test_a_tubelet_and_its_prediction_carry_its_motion() -> None:
    frames = np.zeros((4, 8, 8, 3), np.uint8)
    boxes = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [0, 5, 10, 20], [0, 10, 10, 20]], np.float32)
    tubelet = Tubelet("cam", 1, 0.0, 0.3, frames, boxes, np.full((4, 17, 3), np.nan, np.float32),
                      np.array([0.0, 0.1, 0.2, 0.3], np.float32))  # fmt: skip
    assert tubelet.motion.descent == pytest.approx(0.5)
    scores = {"normal": 0.2, "falling": 0.7, "lying": 0.1}
    with pytest.raises(ValueError, match="motion speed must be a finite number"):
        Motion(0.1, float("nan"))
    with pytest.raises(TypeError, match="motion must be a Motion"):
        Prediction("cam", 1, 0.3, scores, (0.0, 10.0, 10.0, 20.0), 0.5)  # type: ignore[arg-type]
