"""A third reference for cross-validation and the bench: the `neura-fall-detection==0.1.0` PyPI package (NFD).

NFD is a temporal model over pose sequences: its ONNX head (`nfd-fall.onnx` in the package's
`models/nfd-v0.1.0.nfd` bundle) reads 32 steps at 8 fps of 60 features built from the 17 COCO keypoints and the
person's box and gives the probabilities of normal, descending, fallen and recovering; its `FallFusion` state
machine mixes those with hand-written geometry (an upright baseline, descent speed, hip drop, dwell times) and
raises a one-shot event on entering `fallen`, the package's alarm. It is here as an independent published method
scored on the same videos and by the same rule as FallWatch's recognizer.

Its own MoveNet front-end and tracker are bypassed: it is fed FallWatch's tracks (yolo11n-pose keypoints, in the
same COCO order), so the comparison is of the temporal model and its alarm rule, not of the pose detector. Its
feature builder, history padding, softmax, state machine and alarm are the package's own code, imported. It is a
test and benchmark dependency only (the Makefile installs it with `--no-deps`, plus `ai-edge-litert==2.1.6`,
which its `__init__` imports).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.recognizer.export import OnnxRuntime
from fallwatch.training.histories import ClipHistory, TrackHistory
from fallwatch.training.scoring import Series

PACKAGE = "neura_fall_detection"  # import name of neura-fall-detection==0.1.0
INSTALL = "pip install --no-deps neura-fall-detection==0.1.0 ai-edge-litert==2.1.6"
KEYPOINT_FLOOR = (
    0.0  # score given to a keypoint FallWatch has none for (NaN): the package treats it as unseen
)

Region = tuple[float, float, float, float]  # x1, y1, x2, y2 in source pixels: the camera image
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Step:
    """One 8 fps judgement of the package on one track."""

    pts: float
    state: str  # one of the package's CLASS_NAMES
    alarm: bool  # the package's one-shot fall event


def neura_available() -> bool:
    """Whether neura-fall-detection is installed (found without importing it)."""
    return find_spec(PACKAGE) is not None


def _module(name: str) -> ModuleType:
    if not neura_available():
        raise FallWatchError(f"neura-fall-detection is not installed (expected `{INSTALL}`)")
    try:
        return importlib.import_module(f"{PACKAGE}.{name}")
    except ImportError as exc:  # installed with --no-deps, but without ai-edge-litert its __init__ fails
        raise FallWatchError(
            f"neura-fall-detection cannot be imported ({exc}); expected `{INSTALL}`"
        ) from None


class NeuraReference:
    """The package's temporal head (in ONNX Runtime, one thread) and its fall-state fusion, per FallWatch track."""

    def __init__(self) -> None:
        self.constants = _module("constants")
        self.features = _module("features")
        self.fall_logic = _module("fall_logic")
        self._softmax = _module("engine")._softmax
        # The package's own loader: it checks the bundle's hashes and caches the extracted models per user.
        resolved = _module("bundle").resolve_bundle(self.constants.DEFAULT_BUNDLE)
        self.config = self.fall_logic.FallLogicConfig(**resolved.manifest["fall_logic"])
        self.head = OnnxRuntime(resolved.fall_model, threads=1)
        self.fps = float(self.constants.TARGET_FPS)
        self.length = int(self.constants.SEQUENCE_LENGTH)
        self.states = tuple(str(name) for name in self.constants.CLASS_NAMES)

    def steps(self, track: TrackHistory, region: Region) -> list[Step]:
        """The package's state and alarm at each 8 fps tick where FallWatch detected the person."""
        rows = [i for i in ticks(track.pts, self.fps) if detected(track, i)]
        if not rows:
            return []
        poses = [normalised(track.boxes[i], track.keypoints[i], region) for i in rows]
        features = [self.features.pose_to_features(kp, box) for box, kp in poses]
        probabilities = self._probabilities(features)
        fusion = self.fall_logic.FallFusion(self.config)
        steps = []
        for i, (box, kp), p in zip(rows, poses, probabilities, strict=True):
            verdict = fusion.update(track.track_id, box, kp, p, float(track.pts[i]))
            steps.append(Step(float(track.pts[i]), str(verdict.state), bool(verdict.event)))
        return steps

    def _probabilities(self, features: Sequence[FloatArray]) -> FloatArray:
        # Step k sees what the package's engine would hold then: the last 32 features, left-padded by the first.
        pad = self.features.pad_history
        batch = np.stack(
            [
                pad(list(features[max(0, k + 1 - self.length) : k + 1]), self.length)
                for k in range(len(features))
            ]
        )
        return np.asarray(self._softmax(self.head([batch])), dtype=np.float32)


@functools.cache
def reference() -> NeuraReference:
    """One loaded reference per process (the ONNX session is reused for every clip)."""
    return NeuraReference()


def ticks(pts: npt.NDArray[np.floating[Any]], fps: float) -> list[int]:
    """Rows of a history to show the package: at each 1/fps tick, the latest row at or before it."""
    # The head was trained on 32 steps 1/8 s apart and the package's own loop runs at 8 fps, so feeding our
    # 10 analysed fps would squeeze its 4 s window into 3.2 s. The nearest earlier row is what a live 8 fps loop
    # would hold at that moment (causal, never a future frame); at 10 fps it skips one row in five, and a row
    # is never used twice.
    if len(pts) == 0:
        return []
    grid = np.arange(float(pts[0]), float(pts[-1]) + 1e-6, 1.0 / fps)
    rows = np.searchsorted(np.asarray(pts, dtype=np.float64), grid + 1e-6, side="right") - 1
    return [int(i) for i in np.unique(rows)]


def detected(track: TrackHistory, row: int) -> bool:
    """Whether the tracker saw the person (with keypoints) in that row; the package's engine only feeds those."""
    return int(track.missed[row]) == 0 and not bool(np.isnan(track.keypoints[row]).all())


def normalised(box: FloatArray, keypoints: FloatArray, region: Region) -> tuple[FloatArray, FloatArray]:
    """A box and keypoints in the package's units: fractions of the camera image, clipped to it as MoveNet's are."""
    x1, y1, x2, y2 = region
    origin = np.array([x1, y1], dtype=np.float32)
    size = np.array([max(x2 - x1, 1.0), max(y2 - y1, 1.0)], dtype=np.float32)
    kp = np.array(keypoints, dtype=np.float32)
    unseen = np.isnan(kp).any(axis=1)
    # The features divide by the box and average shoulder/hip/ankle rows: a NaN would spread to every feature.
    kp[unseen, :2] = (box[:2] + box[2:]) / 2.0
    kp[unseen, 2] = KEYPOINT_FLOOR
    kp[:, :2] = np.clip((kp[:, :2] - origin) / size, 0.0, 1.0)
    xyxy = np.clip((np.asarray(box, dtype=np.float32).reshape(2, 2) - origin) / size, 0.0, 1.0).reshape(4)
    return xyxy.astype(np.float32), kp


def camera_region(entry: ManifestEntry) -> Region:
    """The camera image of a manifest clip in source pixels: its crop, or the whole frame."""
    x1, y1, x2, y2 = entry.crop or (0, 0, entry.width, entry.height)
    return (float(x1), float(y1), float(x2), float(y2))


def extent(tracks: Sequence[TrackHistory]) -> Region:
    """A stand-in for the camera image when its size is not known: from (0, 0) to the farthest box corner."""
    boxes = [t.boxes for t in tracks if len(t)]
    if not boxes:
        return (0.0, 0.0, 1.0, 1.0)
    corner = np.nanmax(np.concatenate(boxes)[:, 2:], axis=0)
    return (0.0, 0.0, float(corner[0]), float(corner[1]))


def neura_states(track: TrackHistory, region: Region | None = None) -> list[tuple[float, str]]:
    """(stream seconds, state) of the package at each 8 fps tick of one track (`region`: see `neura_series`)."""
    where = extent([track]) if region is None else region
    return [(s.pts, s.state) for s in reference().steps(track, where)]


def alarm_times(track: TrackHistory, region: Region | None = None) -> list[float]:
    """Stream seconds of each fall event the package's own rule raises on one track."""
    where = extent([track]) if region is None else region
    return [s.pts for s in reference().steps(track, where) if s.alarm]


def neura_series(history: ClipHistory, region: Region | None = None) -> tuple[Series, ...]:
    """One 0/1 series per track, 1 from the package's first fall event on: alarm with threshold 0.5, 1 in a row.

    `region` is the camera image (`camera_region(entry)`); the histories do not record the frame size, and
    without it the farthest box corner stands in, which shifts the package's position features.
    """
    where = extent(history.tracks) if region is None else region
    series = []
    for track in history.tracks:
        steps = reference().steps(track, where)
        alarmed = np.maximum.accumulate(np.array([float(s.alarm) for s in steps] or [0.0]))[: len(steps)]
        series.append(Series(np.array([s.pts for s in steps], dtype=np.float64), alarmed.astype(np.float64)))
    return tuple(series)
