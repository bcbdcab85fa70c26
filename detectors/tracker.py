"""The tracker: deep-sort-realtime, one instance per camera, fed our own appearance embeddings.

deep-sort objects never leave this module: callers get `app.types.Track` for confirmed tracks and the IDs of
tracks that ended, so per-track state elsewhere can be freed.

A fall is the hardest moment for a tracker: in half a second the box turns from tall to wide, the detector often
misses the person for a few frames, and DeepSORT starts a new track on the floor. The recognizer needs the
person's whole story under one ID, so a newly confirmed track that appears where a track was just lost, and looks
like it, takes over the lost track's ID (a re-link). IDs reported here are FallWatch's own, stable across re-links.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from deep_sort_realtime.deep_sort.track import TrackState
from deep_sort_realtime.deepsort_tracker import DeepSort

from fallwatch.core.config import TrackerConfig
from fallwatch.core.timing import StageTimer
from fallwatch.core.types import Box, Detection, Frame, Track
from fallwatch.detectors.embedding import Embedder, Embedding, make_embedder


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """The confirmed tracks in one frame and the IDs of tracks that ended with it."""

    tracks: list[Track]
    ended: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Identity:
    """What we last saw of one of our track IDs: where, when and what it looked like."""

    box: Box
    pts: float
    feature: Embedding
    score: float


def is_near(a: Box, b: Box) -> bool:
    """Whether box `a` is where a person last seen at `b` could be now: centres within the longer box side."""
    acx, acy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bcx, bcy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    reach = max(b[2] - b[0], b[3] - b[1], a[2] - a[0], a[3] - a[1])
    return (acx - bcx) ** 2 + (acy - bcy) ** 2 <= reach**2


def _cosine_distance(a: Embedding, b: Embedding) -> float:
    return float(1.0 - np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9))


class PersonTracker:
    """DeepSORT over one camera's detections; reports confirmed tracks, coasting ones for a few frames."""

    def __init__(
        self,
        camera: str,
        config: TrackerConfig,
        embedder: Embedder | None = None,
        timer: StageTimer | None = None,
    ) -> None:
        self.camera = camera
        self.config = config
        self.timer = timer or StageTimer()
        self.embedder = embedder or make_embedder(config.embedder)
        self._deepsort = DeepSort(
            max_age=config.max_age,
            n_init=config.n_init,
            max_iou_distance=config.max_iou_distance,
            max_cosine_distance=config.max_cosine_distance,
            nn_budget=50,  # appearance samples kept per track: bounds memory over long runs
            gating_only_position=config.gating_only_position,
            embedder=None,
        )
        self._public: dict[int, int] = {}  # deep-sort track id -> our track id
        self._seen: dict[int, _Identity] = {}  # our track id -> last observation
        self._next_id = 1

    @property
    def active_ids(self) -> set[int]:
        return set(self._seen)

    def update(self, frame: Frame, detections: list[Detection]) -> TrackUpdate:
        ox, oy = frame.origin
        # DeepSORT and the embedder work on the analysed image; detections are in source pixels.
        local: list[Box] = [
            (d.xyxy[0] - ox, d.xyxy[1] - oy, d.xyxy[2] - ox, d.xyxy[3] - oy) for d in detections
        ]
        raw = [
            ([x1, y1, x2 - x1, y2 - y1], d.score, "person")
            for (x1, y1, x2, y2), d in zip(local, detections, strict=False)
        ]
        with self.timer.stage("embed"):
            embeds = self.embedder.embed(frame.image, local)
        with self.timer.stage("track"):
            ds_tracks = self._deepsort.update_tracks(raw, embeds=embeds, others=list(range(len(detections))))
            self._assign_ids(ds_tracks, detections, embeds, frame.pts)
            tracks = [t for t in (self._to_track(ds, detections) for ds in ds_tracks) if t]
            ended = self._ended(ds_tracks, frame.pts)
        return TrackUpdate(tracks, ended)

    def end_all(self) -> list[int]:
        """Ends every track (the source finished); returns their IDs."""
        ended = sorted(self._seen)
        self._seen.clear()
        self._public.clear()
        self._deepsort.delete_all_tracks()
        return ended

    def _assign_ids(
        self, ds_tracks: list[Any], detections: list[Detection], embeds: list[Embedding], pts: float
    ) -> None:
        for ds in ds_tracks:
            if not ds.is_confirmed():
                continue
            index = ds.get_det_supplementary()
            matched = ds.time_since_update == 0 and index is not None
            key = int(ds.track_id)
            if key not in self._public:
                if not matched:
                    continue
                self._public[key] = self._relink(ds_tracks, detections[index].xyxy, embeds[index], pts)
            if matched:
                d = detections[index]
                self._seen[self._public[key]] = _Identity(d.xyxy, pts, embeds[index], d.score)

    def _relink(self, ds_tracks: list[Any], box: Box, feature: Embedding, pts: float) -> int:
        """Our ID for a newly confirmed track: a recently lost nearby look-alike's, or a new one."""
        live = {
            self._public[int(ds.track_id)]: ds
            for ds in ds_tracks
            if int(ds.track_id) in self._public and not ds.is_deleted()
        }
        candidates = [
            (_cosine_distance(feature, seen.feature), public)
            for public, seen in self._seen.items()
            if (public not in live or live[public].time_since_update > 0)
            and pts - seen.pts <= self.config.relink_s
            and is_near(box, seen.box)
        ]
        candidates = [c for c in candidates if c[0] <= self.config.relink_max_distance]
        if candidates:
            public = min(candidates)[1]
            if public in live:
                live[public].state = TrackState.Deleted  # the new track carries this person now
            return public
        public, self._next_id = self._next_id, self._next_id + 1
        return public

    def _to_track(self, ds: Any, detections: list[Detection]) -> Track | None:
        key = int(ds.track_id)
        if key not in self._public or ds.is_deleted() or ds.time_since_update > self.config.coast_frames:
            return None
        public = self._public[key]
        index = ds.get_det_supplementary()
        if ds.time_since_update == 0 and index is not None:
            detection = detections[index]
            xyxy, keypoints = detection.xyxy, detection.keypoints
        else:
            # The detector missed the person (often someone lying still on the floor): hold the box where they
            # were last seen. The Kalman prediction would carry the fall's downward speed on past the floor.
            xyxy, keypoints = self._seen[public].box, None
        return Track(
            camera=self.camera,
            track_id=public,
            xyxy=xyxy,
            score=self._seen[public].score,
            keypoints=keypoints,
            age=int(ds.age),
            hits=int(ds.hits),
            missed=int(ds.time_since_update),
        )

    def _ended(self, ds_tracks: list[Any], pts: float) -> list[int]:
        """Our IDs that no live track carries and that are too old to be re-linked."""
        alive = {int(ds.track_id) for ds in ds_tracks if not ds.is_deleted()}
        for key in [k for k in self._public if k not in alive]:
            del self._public[key]
        carried = set(self._public.values())
        ended = sorted(
            p for p, seen in self._seen.items() if p not in carried and pts - seen.pts > self.config.relink_s
        )
        for public in ended:
            del self._seen[public]
        return ended
