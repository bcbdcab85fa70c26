"""Motion gating for the detector, per camera: a cheap frame difference on a small grey frame.

A frame in which nothing moved shows the people where the last detection saw them, so its detections are the
last ones again, until `keepalive_s` of stream time has passed: then the detector runs anyway, so a person who
lies still keeps a fresh box. Any change larger than `threshold` (outside the masks) runs the detector at once;
a fall is movement. The reference is the last frame the detector ran on, so slow drifts (a person creeping,
light changing) add up until they count.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from fallwatch.core.config.motion import MotionConfig
from fallwatch.core.types import Frame

Grey = npt.NDArray[np.uint8]


@dataclass(slots=True)
class GateCounts:
    detected: int = 0  # frames the detector ran on
    skipped: int = 0  # frames that reused the last detections


class MotionGate:
    def __init__(self, config: MotionConfig, counts: GateCounts | None = None) -> None:
        self.config = config
        self.counts = counts if counts is not None else GateCounts()
        self._reference: Grey | None = None
        self._reference_pts = float("-inf")
        self._mask: npt.NDArray[np.bool_] | None = None
        self._scale = 1.0

    def needs_detection(self, frame: Frame) -> bool:
        """Whether the detector must look at `frame`; counts the answer."""
        small = self._small(frame)
        due = (
            not self.config.enabled
            or self._reference is None
            or self._reference.shape != small.shape
            or frame.pts - self._reference_pts >= self.config.keepalive_s
            or self.changed_share(small) >= self.config.threshold
        )
        if due:
            self._reference, self._reference_pts = small, frame.pts
            self.counts.detected += 1
        else:
            self.counts.skipped += 1
        return due

    def changed_share(self, small: Grey) -> float:
        assert self._reference is not None
        changed = cv2.absdiff(small, self._reference) > self.config.pixel_threshold
        if self._mask is not None:
            changed &= self._mask
        return float(changed.mean())

    def _small(self, frame: Frame) -> Grey:
        height, width = frame.image.shape[:2]
        self._scale = self.config.width / width
        size = (self.config.width, max(1, round(height * self._scale)))
        grey = cv2.cvtColor(np.asarray(frame.image), cv2.COLOR_BGR2GRAY)
        small = cv2.GaussianBlur(cv2.resize(grey, size, interpolation=cv2.INTER_AREA), (5, 5), 0)
        if self.config.masks and (self._mask is None or self._mask.shape != small.shape):
            self._mask = self._outside_masks(small.shape, frame.origin)
        return small.astype(np.uint8)

    def _outside_masks(self, shape: tuple[int, ...], origin: tuple[int, int]) -> npt.NDArray[np.bool_]:
        keep = np.full(shape[:2], 255, dtype=np.uint8)
        for polygon in self.config.masks:
            points = (np.array(polygon, dtype=np.float64) - origin) * self._scale
            cv2.fillPoly(keep, [points.round().astype(np.int32)], 0)
        return keep > 0
