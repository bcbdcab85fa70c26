"""Synthetic box and keypoint trajectories of falls and of daily life, for the recognizer's trajectory input.

Real falls are few (68 in falldata) and the hard negatives fewer: a man kneeling to pray, sit-ups, lying down in
bed on purpose, walkers seen from a ceiling. A stick figure is cheap. Each sequence is a body of 17 COCO
keypoints, posed by a few segment angles, acting out one motion program (a fall: toppling, fainting, sliding
off a chair; daily life: walking, sitting, kneeling and bowing, lying down slowly, sit-ups, bending, getting up)
and seen by a random camera: distance, elevation (a ceiling camera foreshortens a standing person to a blob),
yaw, roll, keypoint noise and keypoint groups the detector missed.

The sequences become features through `recognizer.trajectory.trajectory_features`, exactly as real tracks do,
and are labelled by `training.labels.window_label` from the program's own fall start and rest, so a synthetic
window means what a real one means.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fallwatch.core.types import LABELS
from fallwatch.recognizer.trajectory import FEATURES, trajectory_features
from fallwatch.training.labels import FallTimes, window_label

FloatArray = npt.NDArray[np.float64]

# A pose: hip x (body heights), torso angle from upright (radians, + leans towards +x), thigh angles left and
# right, shin angles left and right (from pointing straight down, + swings towards +x).
X, TORSO, THIGH_L, THIGH_R, SHIN_L, SHIN_R = range(6)
HALF_PI = math.pi / 2
POSES: dict[str, tuple[float, ...]] = {
    "stand": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "sit": (0.0, 0.15, HALF_PI, HALF_PI, 0.0, 0.0),
    "kneel": (0.0, 0.05, 0.1, 0.1, -HALF_PI, -HALF_PI),
    "bow": (0.0, 1.25, 0.5, 0.5, -HALF_PI, -HALF_PI),  # kneeling, forehead towards the floor (prayer)
    "crouch": (0.0, 0.5, 1.9, 1.9, -0.9, -0.9),
    "bend": (0.0, 1.35, 0.05, 0.05, 0.0, 0.0),  # picking something up
    "slump": (0.0, 0.35, 1.6, 1.4, -1.2, -1.0),  # knees giving way
    "lie_back": (0.0, -HALF_PI, HALF_PI, HALF_PI, HALF_PI, HALF_PI),
    "lie_front": (0.0, HALF_PI, -HALF_PI, -HALF_PI, -HALF_PI, -HALF_PI),
    "situp_down": (0.0, -1.45, 2.3, 2.3, 0.8, 0.8),  # on the back, knees up
    "situp_up": (0.0, -0.35, 2.3, 2.3, 0.8, 0.8),
}
# Segment lengths in standing body heights (ankle to the top of the head is 1).
SHIN, THIGH, TORSO_LENGTH, NECK, CROWN = 0.25, 0.25, 0.30, 0.12, 0.08
SHOULDER_HALF, HIP_HALF = 0.11, 0.08


def _ease_controlled(u: float) -> float:
    return u * u * (3 - 2 * u)


def _ease_falling(u: float) -> float:
    return u * u  # gravity: slow at first, fastest at the floor


class Timeline:
    """A motion program: poses held, moved between and walked, with the fall's start and rest when it has one."""

    def __init__(self, start: str = "stand") -> None:
        self.segments: list[tuple[float, float, FloatArray, FloatArray, Callable[[float], float], float]] = []
        self.pose = np.array(POSES[start], dtype=np.float64)
        self.now = 0.0
        self.fall_start: float | None = None
        self.fall_rest: float | None = None

    def hold(self, seconds: float) -> Timeline:
        return self._add(seconds, self.pose.copy(), _ease_controlled, gait=0.0)

    def walk(self, seconds: float, speed: float) -> Timeline:
        target = self.pose.copy()
        target[X] += speed * seconds
        return self._add(seconds, target, lambda u: u, gait=0.35)

    def move(self, seconds: float, pose: str, shift: float = 0.0, fall: bool = False) -> Timeline:
        target = np.array(POSES[pose], dtype=np.float64)
        target[X] = self.pose[X] + shift
        if fall and self.fall_start is None:
            self.fall_start = self.now
        self._add(seconds, target, _ease_falling if fall else _ease_controlled, gait=0.0)
        if fall:
            self.fall_rest = self.now
        return self

    def _add(
        self, seconds: float, target: FloatArray, ease: Callable[[float], float], gait: float
    ) -> Timeline:
        self.segments.append((self.now, seconds, self.pose.copy(), target, ease, gait))
        self.pose, self.now = target, self.now + seconds
        return self

    @property
    def fall(self) -> FallTimes | None:
        if self.fall_start is None or self.fall_rest is None:
            return None
        return FallTimes(self.fall_start, self.fall_rest)

    def sample(self, times: FloatArray) -> FloatArray:
        """(T, 6) poses at `times` (seconds), walking gait included."""
        out = np.empty((len(times), 6))
        for i, t in enumerate(times):
            out[i] = self._at(float(t))
        return out

    def _at(self, t: float) -> FloatArray:
        for begin, seconds, source, target, ease, gait in self.segments:
            if t <= begin + seconds or (begin, seconds) == self.segments[-1][:2]:
                u = min(max((t - begin) / seconds, 0.0), 1.0)
                pose = source + (target - source) * ease(u)
                if gait:
                    swing = gait * math.sin(2 * math.pi * 0.9 * t)
                    pose[[THIGH_L, THIGH_R]] += (swing, -swing)
                    pose[[SHIN_L, SHIN_R]] += (min(swing, 0.0) * 0.8, min(-swing, 0.0) * 0.8)
                return pose
        return self.pose.copy()


# -- the motion programs: (timeline, duration) from a random generator ------------------------------------------


def _falls(rng: np.random.Generator) -> Timeline:
    kind = rng.integers(4)
    line = Timeline("sit" if kind == 3 else "stand")
    if kind == 0:  # toppling from standing, forwards or backwards
        line.hold(rng.uniform(0.5, 3.0))
        line.move(
            rng.uniform(0.5, 1.1), str(rng.choice(["lie_front", "lie_back"])), rng.uniform(-0.3, 0.3), True
        )
    elif kind == 1:  # tripping while walking
        line.walk(rng.uniform(1.0, 3.0), rng.uniform(0.4, 0.9))
        line.move(rng.uniform(0.4, 0.9), "lie_front", rng.uniform(0.2, 0.5), True)
    elif kind == 2:  # fainting: the knees give way, then the body tips over
        line.hold(rng.uniform(0.5, 3.0))
        line.move(rng.uniform(0.3, 0.6), "slump", 0.0, True)
        line.move(
            rng.uniform(0.3, 0.7), str(rng.choice(["lie_front", "lie_back"])), rng.uniform(-0.2, 0.2), True
        )
    else:  # sliding off a chair
        line.hold(rng.uniform(0.5, 3.0))
        line.move(rng.uniform(0.6, 1.2), "lie_front", rng.uniform(0.1, 0.4), True)
    return line.hold(rng.uniform(3.0, 6.0))


def _daily_life(rng: np.random.Generator) -> Timeline:
    kind = rng.integers(8)
    if kind == 0:
        return Timeline().walk(rng.uniform(3.0, 6.0), rng.uniform(0.3, 1.0))
    if kind == 1:  # sitting down and getting up again
        line = (
            Timeline()
            .hold(rng.uniform(0.3, 2.0))
            .move(rng.uniform(0.9, 2.0), "sit")
            .hold(rng.uniform(0.5, 2.0))
        )
        return line.move(rng.uniform(0.9, 2.0), "stand").hold(1.0)
    if kind == 2:  # kneeling down to pray
        line = Timeline().hold(rng.uniform(0.3, 2.0)).move(rng.uniform(1.2, 2.5), "kneel")
        line.move(rng.uniform(1.0, 2.5), "bow").hold(rng.uniform(0.5, 2.0))
        return line.move(rng.uniform(1.0, 2.0), "kneel").hold(1.0)
    if kind == 3:  # lying down on purpose: sitting first, then down slowly
        line = Timeline().hold(rng.uniform(0.3, 1.5)).move(rng.uniform(1.0, 2.0), "sit")
        return line.move(rng.uniform(1.5, 3.0), "lie_back", rng.uniform(-0.4, 0.0)).hold(
            rng.uniform(1.0, 3.0)
        )
    if kind == 4:  # sit-ups on a mat
        line = Timeline("situp_down").hold(rng.uniform(0.3, 1.0))
        for _ in range(3):
            line.move(rng.uniform(0.6, 1.3), "situp_up").move(rng.uniform(0.6, 1.3), "situp_down")
        return line
    if kind == 5:  # bending to pick something up, or crouching
        pose = str(rng.choice(["bend", "crouch"]))
        line = (
            Timeline()
            .hold(rng.uniform(0.3, 2.0))
            .move(rng.uniform(0.7, 1.5), pose)
            .hold(rng.uniform(0.3, 1.5))
        )
        return line.move(rng.uniform(0.7, 1.5), "stand").hold(1.0)
    if kind == 6:  # getting up from the floor
        line = Timeline("lie_back").hold(rng.uniform(0.5, 2.0)).move(rng.uniform(1.2, 2.5), "sit")
        return line.move(rng.uniform(1.0, 2.0), "stand").hold(1.0)
    return Timeline().hold(rng.uniform(3.0, 6.0))  # standing about


# -- the body and the camera ------------------------------------------------------------------------------------


def body_points(pose: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(17, 3) COCO keypoints and the crown, in world units: x along the motion, y across it, z up; the lowest
    point on the floor (z = 0)."""
    hip = np.array([pose[X], 0.0, 0.0])
    up = np.array([math.sin(pose[TORSO]), 0.0, math.cos(pose[TORSO])])
    across = np.array([0.0, 1.0, 0.0])
    shoulder = hip + TORSO_LENGTH * up
    nose = shoulder + NECK * up
    points = np.zeros((17, 3))
    points[0] = nose
    points[1], points[2] = nose + 0.02 * up + 0.03 * across, nose + 0.02 * up - 0.03 * across
    points[3], points[4] = nose + 0.06 * across, nose - 0.06 * across
    points[5], points[6] = shoulder + SHOULDER_HALF * across, shoulder - SHOULDER_HALF * across
    down = -up
    points[7], points[8] = points[5] + 0.15 * down, points[6] + 0.15 * down  # elbows, arms hanging
    points[9], points[10] = points[7] + 0.13 * down, points[8] + 0.13 * down
    for side, (thigh, shin) in enumerate(((pose[THIGH_L], pose[SHIN_L]), (pose[THIGH_R], pose[SHIN_R]))):
        hip_point = hip + (HIP_HALF if side == 0 else -HIP_HALF) * across
        knee = hip_point + THIGH * np.array([math.sin(thigh), 0.0, -math.cos(thigh)])
        ankle = knee + SHIN * np.array([math.sin(shin), 0.0, -math.cos(shin)])
        points[11 + side], points[13 + side], points[15 + side] = hip_point, knee, ankle
    crown = nose + CROWN * up
    floor = min(points[:, 2].min(), crown[2])
    points[:, 2] -= floor
    return points, crown - np.array([0.0, 0.0, floor])


@dataclass(frozen=True, slots=True)
class Camera:
    height_px: float  # a standing person's height in pixels at zero elevation
    elevation: float  # radians: 0 looks straight ahead, pi/2 straight down
    yaw: float  # radians between the motion and the image's x axis
    roll: float
    origin: tuple[float, float]

    @staticmethod
    def random(rng: np.random.Generator) -> Camera:
        ceiling = rng.random() < 0.25
        elevation = rng.uniform(1.0, 1.45) if ceiling else rng.uniform(0.0, 1.0)
        return Camera(
            height_px=float(math.exp(rng.uniform(math.log(40), math.log(350)))),
            elevation=float(elevation),
            yaw=float(rng.uniform(0, 2 * math.pi)),
            roll=float(rng.uniform(-0.14, 0.14)),
            origin=(float(rng.uniform(200, 1000)), float(rng.uniform(200, 600))),
        )

    def project(self, points: FloatArray) -> FloatArray:
        """(N, 2) image pixels (y down) of (N, 3) world points, by an orthographic camera."""
        cos_yaw, sin_yaw = math.cos(self.yaw), math.sin(self.yaw)
        sideways = points[:, 0] * cos_yaw - points[:, 1] * sin_yaw
        depth = points[:, 0] * sin_yaw + points[:, 1] * cos_yaw
        up = points[:, 2] * math.cos(self.elevation) + depth * math.sin(self.elevation)
        cos_roll, sin_roll = math.cos(self.roll), math.sin(self.roll)
        x = (sideways * cos_roll - up * sin_roll) * self.height_px + self.origin[0]
        y = -(sideways * sin_roll + up * cos_roll) * self.height_px + self.origin[1]
        return np.stack([x, y], axis=1)


def observe(poses: FloatArray, camera: Camera, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """What a pose detector would report of `poses`: T boxes (x1, y1, x2, y2) and T x 17 x 3 keypoints."""
    boxes, keypoints = np.empty((len(poses), 4)), np.empty((len(poses), 17, 3))
    size = camera.height_px
    confidence = rng.uniform(0.45, 0.95, size=17) - (0.15 if size < 80 else 0.0)
    missed = rng.integers(5) if rng.random() < 0.25 else None  # one keypoint group unseen all window
    for t, pose in enumerate(poses):
        points, crown = body_points(pose)
        pixels = camera.project(np.vstack([points, crown]))
        lying = abs(math.sin(pose[TORSO])) > 0.7
        noise = (0.015 * size + 1.0) * (2.0 if lying else 1.0)
        keypoints[t, :, :2] = pixels[:17] + rng.normal(0.0, noise, size=(17, 2))
        # Real detectors lose keypoints of a person on the floor far more often than of one standing.
        keypoints[t, :, 2] = np.clip(
            confidence - (0.2 if lying else 0.0) + rng.normal(0.0, 0.15, 17), 0.0, 1.0
        )
        margin = 0.05 * size
        low, high = pixels.min(axis=0) - margin, pixels.max(axis=0) + margin
        boxes[t] = np.concatenate([low, high]) + rng.normal(0.0, 0.02 * size, size=4)
    if missed is not None:
        keypoints[:, _GROUP_POINTS[missed], 2] = 0.1
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 2.0)
    return boxes, keypoints


_GROUP_POINTS = (list(range(5)), [5, 6], [11, 12], [13, 14], [15, 16])


# -- windows ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SyntheticTrajectories:
    features: npt.NDArray[np.float32]  # (N, T, FEATURES)
    labels: npt.NDArray[np.int64]  # (N,) indices into LABELS

    def counts(self) -> dict[str, int]:
        return {label: int((self.labels == i).sum()) for i, label in enumerate(LABELS)}


def synthetic_window(
    rng: np.random.Generator, frames: int, fps: float = 10.0
) -> tuple[npt.NDArray[np.float32], int] | None:
    """One window of `frames` frames: its trajectory features and label index (None: it cannot be called)."""
    line = _falls(rng) if rng.random() < 0.5 else _daily_life(rng)
    span = (frames - 1) / fps
    start = rng.uniform(0.0, max(line.now - span, 0.0))
    times = start + np.arange(frames) / fps
    label = window_label(float(times[0]), float(times[-1]), line.fall)
    if label is None:
        return None
    poses = line.sample(times) + rng.normal(0.0, 0.03, size=(frames, 6)) * (np.arange(6) > 0)
    boxes, keypoints = observe(poses, Camera.random(rng), rng)
    return trajectory_features(boxes, keypoints), LABELS.index(label)


def synthetic_trajectories(count: int, frames: int, seed: int, fps: float = 10.0) -> SyntheticTrajectories:
    """`count` labelled synthetic windows, the same for the same seed."""
    rng = np.random.default_rng(seed)
    features: list[npt.NDArray[np.float32]] = []
    labels: list[int] = []
    while len(labels) < count:
        window = synthetic_window(rng, frames, fps)
        if window is not None:
            features.append(window[0])
            labels.append(window[1])
    stacked = np.stack(features) if features else np.zeros((0, frames, FEATURES), np.float32)
    return SyntheticTrajectories(stacked, np.array(labels, dtype=np.int64))
