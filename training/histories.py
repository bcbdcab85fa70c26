"""Per-track histories of real clips, made by FallWatch's own detector and tracker, cached on disk.

Training must see what inference sees, so a clip is run through the same `Perception` that `fallwatch run` uses
and every confirmed track keeps, frame by frame, the square crop the tubelet builder cuts, its box, keypoints and
time. Windows of any length and stride are cut from these histories at training time (temporal jitter and speed
change come free), and the cache is keyed by everything that changes what is stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fallwatch.core.config import CameraConfig, Settings
from fallwatch.core.files import save_npz_atomic
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import NUM_KEYPOINTS
from fallwatch.detectors.perception import Perception
from fallwatch.detectors.tubelets import crop_square
from fallwatch.ingest.cameras import Camera, CameraHub

# 2: the OpenVINO detector computes in float32 on every CPU (histories made in bfloat16 on AMX Xeons are stale).
CACHE_VERSION = 2


@dataclass(frozen=True, slots=True)
class TrackHistory:
    track_id: int
    pts: npt.NDArray[np.float32]  # (n,)
    crops: npt.NDArray[np.uint8]  # (n, S, S, 3) BGR
    boxes: npt.NDArray[np.float32]  # (n, 4) source pixels
    keypoints: npt.NDArray[np.float32]  # (n, 17, 3), NaN where none
    missed: npt.NDArray[np.int16]  # (n,) 0 when detected in that frame

    def __len__(self) -> int:
        return int(self.pts.shape[0])


@dataclass(frozen=True, slots=True)
class ClipHistory:
    relative: str
    tracks: tuple[TrackHistory, ...]
    duration_s: float  # stream time of the last analysed frame


def cache_key(entry: ManifestEntry, settings: Settings) -> str:
    relevant = {
        "version": CACHE_VERSION,
        "clip": entry.relative,
        "crop": entry.crop,
        "bytes": entry.path.stat().st_size,
        "fps": settings.ingest.fps,
        "detector": settings.detector.model_dump(mode="json", exclude={"device"}),
        "tracker": settings.tracker.model_dump(mode="json"),
        "tubelets": settings.tubelets.model_dump(mode="json", include={"size", "margin"}),
    }
    return hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def extract(entry: ManifestEntry, settings: Settings, perception: Perception) -> ClipHistory:
    """Runs one clip through detection and tracking and records every confirmed track's crops."""
    size, margin = settings.tubelets.size, settings.tubelets.margin
    rows: dict[int, list[tuple[float, np.ndarray, tuple[float, ...], np.ndarray, int]]] = {}
    camera = Camera("train", CameraConfig(source=str(entry.path), crop=entry.crop), settings.ingest)
    last_pts = 0.0
    with CameraHub([camera]) as hub:
        for batch in hub.batches():
            for step in perception.process(batch):
                last_pts = step.frame.pts
                for track in step.tracks:
                    crop = crop_square(step.frame.image, step.frame.origin, track.xyxy, margin, size)
                    keypoints = (
                        np.full((NUM_KEYPOINTS, 3), np.nan, np.float32)
                        if track.keypoints is None
                        else track.keypoints
                    )
                    rows.setdefault(track.track_id, []).append(
                        (step.frame.pts, crop, track.xyxy, keypoints, track.missed)
                    )
    perception.finish("train")
    if "train" in hub.errors:
        raise hub.errors["train"]
    tracks = tuple(_history(track_id, rows[track_id]) for track_id in sorted(rows))
    return ClipHistory(entry.relative, tracks, last_pts)


def _history(
    track_id: int, rows: list[tuple[float, np.ndarray, tuple[float, ...], np.ndarray, int]]
) -> TrackHistory:
    return TrackHistory(
        track_id=track_id,
        pts=np.array([r[0] for r in rows], dtype=np.float32),
        crops=np.stack([r[1] for r in rows]).astype(np.uint8),
        boxes=np.array([r[2] for r in rows], dtype=np.float32),
        keypoints=np.stack([r[3] for r in rows]).astype(np.float32),
        missed=np.array([r[4] for r in rows], dtype=np.int16),
    )


def save(history: ClipHistory, path: Path) -> None:
    arrays: dict[str, np.ndarray] = {"duration_s": np.array(history.duration_s)}
    for track in history.tracks:
        for name in ("pts", "crops", "boxes", "keypoints", "missed"):
            arrays[f"{track.track_id}/{name}"] = getattr(track, name)
    save_npz_atomic(path, arrays)


def load(path: Path, relative: str) -> ClipHistory:
    with np.load(path) as data:
        ids = sorted({int(key.split("/")[0]) for key in data.files if "/" in key})
        tracks = tuple(
            TrackHistory(
                track_id=i,
                pts=data[f"{i}/pts"],
                crops=data[f"{i}/crops"],
                boxes=data[f"{i}/boxes"],
                keypoints=data[f"{i}/keypoints"],
                missed=data[f"{i}/missed"],
            )
            for i in ids
        )
        return ClipHistory(relative, tracks, float(data["duration_s"]))


def cached_history(
    entry: ManifestEntry, settings: Settings, perception: Perception, cache_dir: Path
) -> ClipHistory:
    """The clip's history from the cache, or extracted and cached now."""
    path = cache_dir / f"{cache_key(entry, settings)}.npz"
    if path.is_file():
        return load(path, entry.relative)
    history = extract(entry, settings, perception)
    save(history, path)
    return history
