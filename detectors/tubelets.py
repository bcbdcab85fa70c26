"""Tubelets: per track, a ring buffer of square crops around the person, emitted every `stride` frames.

The recognizer sees one person at a time, at a fixed size, with some room around them (a fall is a body moving
relative to the floor, so the floor must be in the crop). Boxes and keypoints of every frame are kept beside the
crops for the alert engine and for trajectory features. A track that ends is flushed and freed, so memory is
bounded by the number of people in view, not by how long FallWatch runs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from fallwatch.core.config import TubeletConfig
from fallwatch.core.types import NUM_KEYPOINTS, Box, Frame, Image, Track, Tubelet

_NO_KEYPOINTS = np.full((NUM_KEYPOINTS, 3), np.nan, dtype=np.float32)
_NO_KEYPOINTS.flags.writeable = False


def square_around(xyxy: Box, margin: float) -> tuple[float, float, float]:
    """(centre x, centre y, side) of the square that holds the box plus `margin` of its longer side each way."""
    x1, y1, x2, y2 = xyxy
    side = max(x2 - x1, y2 - y1, 1.0) * (1.0 + 2.0 * margin)
    return ((x1 + x2) / 2.0, (y1 + y2) / 2.0, side)


def crop_square(image: Image, origin: tuple[int, int], xyxy: Box, margin: float, size: int) -> Image:
    """The square around a source-pixel box, resized to `size`; parts outside the image are black."""
    cx, cy, side = square_around(xyxy, margin)
    scale = size / side
    # One affine warp crops, pads and resizes at once: cheaper than slicing, padding and resizing.
    left, top = cx - origin[0] - side / 2.0, cy - origin[1] - side / 2.0
    matrix = np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]], dtype=np.float64)
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT)
    return np.asarray(crop, dtype=np.uint8)


@dataclass
class _TrackBuffer:
    crops: deque[Image]
    boxes: deque[Box]
    keypoints: deque[np.ndarray]
    pts: deque[float]
    since_emit: int = 0
    emitted: bool = False

    @classmethod
    def empty(cls, length: int) -> _TrackBuffer:
        return cls(deque(maxlen=length), deque(maxlen=length), deque(maxlen=length), deque(maxlen=length))

    def __len__(self) -> int:
        return len(self.crops)


class TubeletBuilder:
    """Builds tubelets for one camera's tracks."""

    def __init__(self, camera: str, config: TubeletConfig) -> None:
        self.camera = camera
        self.config = config
        self._buffers: dict[int, _TrackBuffer] = {}

    @property
    def active_tracks(self) -> int:
        return len(self._buffers)

    def add(self, frame: Frame, tracks: list[Track]) -> list[Tubelet]:
        """Adds this frame's crop of every track; returns the tubelets that became due."""
        ready = []
        for track in tracks:
            buffer = self._buffers.get(track.track_id)
            if buffer is None:
                buffer = self._buffers[track.track_id] = _TrackBuffer.empty(self.config.frames)
            buffer.crops.append(
                crop_square(frame.image, frame.origin, track.xyxy, self.config.margin, self.config.size)
            )
            buffer.boxes.append(track.xyxy)
            buffer.keypoints.append(track.keypoints if track.keypoints is not None else _NO_KEYPOINTS)
            buffer.pts.append(frame.pts)
            buffer.since_emit += 1
            full = len(buffer) == self.config.frames
            if full and (not buffer.emitted or buffer.since_emit >= self.config.stride):
                ready.append(self._emit(track.track_id, buffer))
        return ready

    def end(self, track_ids: list[int]) -> list[Tubelet]:
        """Frees ended tracks; frames not yet seen in a tubelet go out in a last one.

        A track shorter than the tubelet but at least half as long is padded by repeating its first frame, so a
        person seen only briefly (walking in and falling) is still judged.
        """
        flushed = []
        for track_id in track_ids:
            buffer = self._buffers.pop(track_id, None)
            if buffer is None or (buffer.emitted and buffer.since_emit == 0):
                continue
            if len(buffer) * 2 >= self.config.frames:
                flushed.append(self._emit(track_id, buffer))
        return flushed

    def end_all(self) -> list[Tubelet]:
        return self.end(sorted(self._buffers))

    def _emit(self, track_id: int, buffer: _TrackBuffer) -> Tubelet:
        pad = self.config.frames - len(buffer)
        take = [0] * pad + list(range(len(buffer)))
        crops, boxes, keypoints, pts = (
            list(buffer.crops),
            list(buffer.boxes),
            list(buffer.keypoints),
            list(buffer.pts),
        )
        buffer.since_emit = 0
        buffer.emitted = True
        return Tubelet(
            camera=self.camera,
            track_id=track_id,
            pts_start=pts[0],
            pts_end=pts[-1],
            frames=np.stack([crops[i] for i in take]),
            boxes=np.array([boxes[i] for i in take], dtype=np.float32),
            keypoints=np.stack([keypoints[i] for i in take]).astype(np.float32),
            pts=np.array([pts[i] for i in take], dtype=np.float32),
        )
