import numpy as np

from fallwatch.training.keypoint_rule import KeypointRule, torso_angle_deg


def _pose(shoulder_xy: tuple[float, float], hip_xy: tuple[float, float]) -> np.ndarray:
    points = np.zeros((17, 3), dtype=np.float32)
    points[:, 2] = 0.9
    points[[5, 6], :2] = shoulder_xy
    points[[11, 12], :2] = hip_xy
    return points


UPRIGHT = _pose((100, 50), (100, 150))
FLAT = _pose((200, 150), (100, 152))
TALL, WIDE = np.array([80, 40, 120, 200], np.float32), np.array([60, 130, 240, 180], np.float32)


def test_torso_angle() -> None:
    assert torso_angle_deg(UPRIGHT) == 0.0
    assert abs(torso_angle_deg(FLAT) - 88.9) < 0.1  # type: ignore[operator]
    unsure = UPRIGHT.copy()
    unsure[5, 2] = 0.1
    assert torso_angle_deg(unsure) is None


def test_fires_once_after_being_down_for_the_hold_time() -> None:
    pts = np.arange(0, 4, 0.1, dtype=np.float32)
    down = pts >= 1.0
    boxes = np.stack([WIDE if d else TALL for d in down])
    keypoints = np.stack([FLAT if d else UPRIGHT for d in down])
    assert KeypointRule(hold_s=1.0).alarms(pts, boxes, keypoints) == [2.0]


def test_frames_without_keypoints_neither_count_nor_reset() -> None:
    pts = np.arange(0, 3, 0.1, dtype=np.float32)
    boxes = np.stack([WIDE] * len(pts))
    keypoints = np.stack([FLAT] * len(pts))
    keypoints[5:8] = np.nan  # the detector missed the person for three frames
    fired = KeypointRule(hold_s=1.0).alarms(pts, boxes, keypoints)
    assert fired and abs(fired[0] - 1.0) < 1e-6


def test_a_wide_box_alone_is_not_a_fall() -> None:
    pts = np.arange(0, 3, 0.1, dtype=np.float32)
    boxes = np.stack([WIDE] * len(pts))
    keypoints = np.stack([UPRIGHT] * len(pts))  # e.g. arms spread wide while standing
    assert KeypointRule().alarms(pts, boxes, keypoints) == []
