"""The reference a learned recognizer must beat: a keypoint rule.

A person is "down" when the torso (mid-hips to mid-shoulders) leans more than `angle_deg` from vertical and the
box is wider than tall; an alarm is raised when that holds for `hold_s` seconds. It sees only boxes and keypoints
of one track, so it runs on anything the tracker produced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SHOULDERS, HIPS = (5, 6), (11, 12)
MIN_CONFIDENCE = 0.3


@dataclass(frozen=True, slots=True)
class KeypointRule:
    angle_deg: float = 60.0
    aspect: float = 1.0  # box width / height
    hold_s: float = 1.0

    def down(self, box: npt.NDArray[np.float32], keypoints: npt.NDArray[np.float32]) -> bool:
        width, height = float(box[2] - box[0]), float(box[3] - box[1])
        if height <= 0 or width / height <= self.aspect:
            return False
        angle = torso_angle_deg(keypoints)
        return angle is not None and angle > self.angle_deg

    def alarms(self, pts: npt.NDArray[np.float32], boxes: npt.NDArray[np.float32],
               keypoints: npt.NDArray[np.float32]) -> list[float]:  # fmt: skip
        """Times at which the rule fires for one track (once per uninterrupted stretch of being down)."""
        fired: list[float] = []
        since: float | None = None
        for t, box, points in zip(pts, boxes, keypoints, strict=True):
            if np.isnan(points).all():
                continue  # a frame the person was not detected in: no evidence either way
            if not self.down(box, points):
                since = None
                continue
            if since is None:
                since = float(t)
            elif float(t) - since >= self.hold_s and (not fired or fired[-1] < since):
                fired.append(float(t))
        return fired


def torso_angle_deg(keypoints: npt.NDArray[np.float32]) -> float | None:
    """Angle of the mid-hip -> mid-shoulder line from vertical, in degrees; None if those points are unsure."""
    points = np.asarray(keypoints, dtype=np.float32)
    if points.shape != (17, 3) or np.isnan(points).any():
        return None
    joints = SHOULDERS + HIPS
    if (points[list(joints), 2] < MIN_CONFIDENCE).any():
        return None
    shoulder = points[list(SHOULDERS), :2].mean(axis=0)
    hip = points[list(HIPS), :2].mean(axis=0)
    dx, dy = float(shoulder[0] - hip[0]), float(shoulder[1] - hip[1])
    if dx == 0 and dy == 0:
        return None
    return math.degrees(math.atan2(abs(dx), -dy))  # image y grows downwards: upright is dy < 0, angle 0
