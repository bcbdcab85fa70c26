"""The typed seams between pipeline stages.

Small frozen dataclasses, validated on construction. No framework object (ultralytics results, torch tensors,
ORM rows) crosses a seam: stages exchange only these and NumPy arrays, which are made read-only so that one
stage cannot change what another sees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

NUM_KEYPOINTS = 17
LABELS: tuple[str, ...] = ("normal", "falling", "lying")

# COCO keypoint order, as YOLO pose models emit them.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

Box = tuple[float, float, float, float]
Image = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]


def _frozen_array(array: npt.NDArray[Any], dtype: type, name: str, shape_hint: str) -> npt.NDArray[Any]:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array {shape_hint}, got {type(array).__name__}")
    out: npt.NDArray[Any] = np.ascontiguousarray(array, dtype=dtype)
    if out is array and array.flags.writeable:
        out = array.copy()  # never freeze the caller's own buffer under them
    out.flags.writeable = False
    return out


def _check_box(xyxy: Box, name: str = "xyxy") -> Box:
    if len(xyxy) != 4:
        raise ValueError(f"{name} must have 4 values (x1, y1, x2, y2), got {len(xyxy)}")
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise ValueError(f"{name} must be finite, got {xyxy}")
    if x2 < x1 or y2 < y1:
        raise ValueError(f"{name} must have x2 >= x1 and y2 >= y1, got {xyxy}")
    return (x1, y1, x2, y2)


def _check_score(score: float, name: str = "score") -> float:
    score = float(score)
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {score}")
    return score


def _check_keypoints(keypoints: FloatArray | None) -> FloatArray | None:
    if keypoints is None:
        return None
    frozen = _frozen_array(keypoints, np.float32, "keypoints", f"({NUM_KEYPOINTS}, 3)")
    if frozen.shape != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints must have shape ({NUM_KEYPOINTS}, 3), got {frozen.shape}")
    return frozen


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame chosen for analysis.

    `image` is the camera's region of interest; `origin` is that region's top-left corner in source pixels, so
    that boxes found on `image` can be reported in source pixels.
    """

    camera: str
    index: int  # 1-based index among all decoded frames of the source
    pts: float  # stream seconds from the source's first frame
    wall: float  # unix seconds when decoded
    image: Image  # H x W x 3 uint8 BGR, read-only
    origin: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if not self.camera:
            raise ValueError("camera must be a non-empty name")
        if self.index < 1:
            raise ValueError(f"index is 1-based, got {self.index}")
        if not math.isfinite(self.pts):
            raise ValueError(f"pts must be finite, got {self.pts}")
        image = _frozen_array(self.image, np.uint8, "image", "(H, W, 3)")
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
        object.__setattr__(self, "image", image)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the analysed image."""
        return (int(self.image.shape[1]), int(self.image.shape[0]))


@dataclass(frozen=True, slots=True)
class Detection:
    """A person found in one frame, in source pixels."""

    xyxy: Box
    score: float
    keypoints: FloatArray | None = None  # 17 x 3: x, y (source pixels), confidence

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", _check_box(self.xyxy))
        object.__setattr__(self, "score", _check_score(self.score))
        object.__setattr__(self, "keypoints", _check_keypoints(self.keypoints))


@dataclass(frozen=True, slots=True)
class Track:
    """A confirmed track in one analysed frame.

    `age` counts analysed frames since the track was born; `hits` counts the detections matched to it;
    `missed` is 0 when a detection matched it in this frame and N when it has coasted N frames on prediction.
    """

    camera: str
    track_id: int
    xyxy: Box
    score: float
    keypoints: FloatArray | None
    age: int
    hits: int
    missed: int = 0

    def __post_init__(self) -> None:
        if self.track_id < 0:
            raise ValueError(f"track_id must be >= 0, got {self.track_id}")
        object.__setattr__(self, "xyxy", _check_box(self.xyxy))
        object.__setattr__(self, "score", _check_score(self.score))
        object.__setattr__(self, "keypoints", _check_keypoints(self.keypoints))
        if self.age < 1 or self.hits < 1 or self.missed < 0:
            raise ValueError(
                f"age and hits must be >= 1 and missed >= 0, got {self.age}, {self.hits}, {self.missed}"
            )


@dataclass(frozen=True, slots=True)
class Tubelet:
    """One person's recent square crops, ready for the recognizer.

    `frames` is T x S x S x 3 (uint8 BGR); `boxes` the T source-pixel boxes the crops were cut around;
    `keypoints` T x 17 x 3 with NaN where a frame had none; `pts` the T frame times.
    """

    camera: str
    track_id: int
    pts_start: float
    pts_end: float
    frames: Image
    boxes: FloatArray
    keypoints: FloatArray = field(repr=False)
    pts: FloatArray = field(repr=False)

    def __post_init__(self) -> None:
        frames = _frozen_array(self.frames, np.uint8, "frames", "(T, S, S, 3)")
        if (
            frames.ndim != 4
            or frames.shape[1] != frames.shape[2]
            or frames.shape[3] != 3
            or frames.shape[0] < 1
        ):
            raise ValueError(f"frames must have shape (T, S, S, 3), got {frames.shape}")
        t = frames.shape[0]
        boxes = _frozen_array(self.boxes, np.float32, "boxes", "(T, 4)")
        keypoints = _frozen_array(self.keypoints, np.float32, "keypoints", "(T, 17, 3)")
        pts = _frozen_array(self.pts, np.float32, "pts", "(T,)")
        if boxes.shape != (t, 4):
            raise ValueError(f"boxes must have shape ({t}, 4), got {boxes.shape}")
        if keypoints.shape != (t, NUM_KEYPOINTS, 3):
            raise ValueError(f"keypoints must have shape ({t}, {NUM_KEYPOINTS}, 3), got {keypoints.shape}")
        if pts.shape != (t,):
            raise ValueError(f"pts must have shape ({t},), got {pts.shape}")
        if self.pts_end < self.pts_start:
            raise ValueError(f"pts_end {self.pts_end} is before pts_start {self.pts_start}")
        for name, value in (("frames", frames), ("boxes", boxes), ("keypoints", keypoints), ("pts", pts)):
            object.__setattr__(self, name, value)

    @property
    def length(self) -> int:
        return int(self.frames.shape[0])

    @property
    def motion(self) -> Motion:
        """How this tubelet's boxes moved."""
        return Motion.of(self.boxes, self.pts)

    @property
    def size(self) -> int:
        return int(self.frames.shape[1])


@dataclass(frozen=True, slots=True)
class Motion:
    """How a person's box moved over one tubelet, for the alert engine to weigh beside the recognizer's scores.

    `descent`: how far the last box's top is below the highest top, in units of the tallest box (0 when it did
    not come down); a fall pulls the top of the box down within a second or two, walking, sit-ups and lying down
    on a bed mostly do not. `speed`: how far the box centre travelled from the first box to the last, in box
    sides (the longest seen) per second; a walker crosses the view, a falling person comes to rest near where
    they stood.
    """

    descent: float
    speed: float

    def __post_init__(self) -> None:
        for name in ("descent", "speed"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"motion {name} must be a finite number >= 0, got {value}")
            object.__setattr__(self, name, value)

    @classmethod
    def of(cls, boxes: npt.NDArray[Any], pts: npt.NDArray[Any]) -> Motion:
        """The motion of N boxes (N x 4, source pixels, oldest first) seen at stream times `pts` (N,)."""
        if len(boxes) == 0:
            return cls(0.0, 0.0)
        boxes = np.asarray(boxes, dtype=np.float64)
        tops, heights = boxes[:, 1], boxes[:, 3] - boxes[:, 1]
        tallest, side = float(np.max(heights)), float(np.max(np.maximum(heights, boxes[:, 2] - boxes[:, 0])))
        descent = max(0.0, float(tops[-1] - np.min(tops)) / tallest) if tallest > 0 else 0.0
        elapsed = float(pts[-1] - pts[0])
        if elapsed < _MOTION_MIN_S or side <= 0:
            return cls(descent, 0.0)  # too short a span to tell a walker's pace
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        travelled = float(np.hypot(*(centres[-1] - centres[0])))
        return cls(descent, travelled / side / elapsed)


_MOTION_MIN_S = 0.4


@dataclass(frozen=True, slots=True)
class Prediction:
    """The recognizer's verdict on one tubelet: a probability per label, with the tubelet's last box and how
    its boxes moved (None where that is not known, which the alert engine takes as no evidence either way)."""

    camera: str
    track_id: int
    pts: float
    scores: dict[str, float]
    box: Box
    motion: Motion | None = None

    def __post_init__(self) -> None:
        if set(self.scores) != set(LABELS):
            raise ValueError(f"scores must have exactly the labels {LABELS}, got {sorted(self.scores)}")
        scores = {label: _check_score(self.scores[label], f"scores[{label}]") for label in LABELS}
        if abs(sum(scores.values()) - 1.0) > 1e-3:
            raise ValueError(f"scores must sum to 1, got {sum(scores.values()):.4f}")
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "box", _check_box(self.box, "box"))
        if self.motion is not None and not isinstance(self.motion, Motion):
            raise TypeError(f"motion must be a Motion or None, got {type(self.motion).__name__}")

    @property
    def label(self) -> str:
        return max(self.scores, key=self.scores.__getitem__)


class EventKind(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"
    RECOVERED = "recovered"
    FELL_AGAIN = "fell_again"  # down again within the cooldown after RECOVERED: same incident, told again
    CLOSED = "closed"


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """What the alert engine emits; the store turns it into rows."""

    kind: EventKind
    incident_key: str
    camera: str
    track_id: int
    pts: float
    severity: Severity
    score: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "severity", Severity(self.severity))
        if not self.incident_key:
            raise ValueError("incident_key must be non-empty")
        object.__setattr__(self, "score", _check_score(self.score))
