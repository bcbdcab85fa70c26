"""Pictures for the dashboard: the track's box on a snapshot, zones on a still frame (OpenCV, in BGR)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fallwatch.core.config import ZoneConfig
from fallwatch.core.types import Box

CRITICAL = (48, 38, 220)  # BGR of the dashboard's red
WARNING = (0, 140, 245)  # amber
ZONE_COLOURS = {"ignore": (150, 150, 150), "rest": (200, 130, 40), "area": (90, 170, 60)}
BLANK_SIZE = (480, 640)  # height, width of the canvas when a camera has no frame yet


def decode(jpeg: bytes) -> np.ndarray | None:
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else np.asarray(image, dtype=np.uint8)


def encode(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), 90])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes())


def shrink(jpeg: bytes, max_width: int) -> bytes:
    """The picture at most `max_width` pixels wide (the same bytes when it already is, or is no JPEG)."""
    image = decode(jpeg)
    if image is None or image.shape[1] <= max_width:
        return jpeg
    height = round(image.shape[0] * max_width / image.shape[1])
    return encode(cv2.resize(image, (max_width, height), interpolation=cv2.INTER_AREA))


def _label(canvas: np.ndarray, text: str, origin: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Text on a filled tag, so that it stays readable on any background."""
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1
    (width, height), baseline = cv2.getTextSize(text, font, scale, thickness)
    x, y = origin
    y = max(y, height + baseline + 4)
    cv2.rectangle(canvas, (x, y - height - baseline - 4), (x + width + 8, y), colour, cv2.FILLED)
    cv2.putText(canvas, text, (x + 4, y - baseline - 1), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def draw_box(jpeg: bytes, box: Box, label: str, critical: bool) -> bytes:
    """The snapshot with the person's box and a label; the snapshot unchanged if it cannot be decoded."""
    image = decode(jpeg)
    if image is None:
        return jpeg
    colour = CRITICAL if critical else WARNING
    x1, y1, x2, y2 = (round(v) for v in box)
    thickness = max(2, round(max(image.shape[:2]) / 300))
    cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
    _label(image, label, (x1, y1 - 2), colour)
    return encode(image)


def blank(height: int = BLANK_SIZE[0], width: int = BLANK_SIZE[1]) -> np.ndarray:
    canvas = np.full((height, width, 3), 235, dtype=np.uint8)
    cv2.putText(canvas, "no frame yet", (16, 32), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (120, 120, 120), 2)
    return canvas


def draw_zones(jpeg: bytes | None, zones: Sequence[ZoneConfig]) -> bytes:
    """Zones as translucent polygons with their names; on a grey canvas when there is no frame."""
    image = decode(jpeg) if jpeg is not None else None
    if image is None:
        right = max((x for zone in zones for x, _ in zone.points), default=BLANK_SIZE[1])
        bottom = max((y for zone in zones for _, y in zone.points), default=BLANK_SIZE[0])
        image = blank(max(BLANK_SIZE[0], round(bottom) + 20), max(BLANK_SIZE[1], round(right) + 20))
    overlay = image.copy()
    for zone in zones:
        points = np.array([[round(x), round(y)] for x, y in zone.points], dtype=np.int32)
        cv2.fillPoly(overlay, [points], ZONE_COLOURS[zone.kind])
    image = cv2.addWeighted(overlay, 0.35, image, 0.65, 0)
    for zone in zones:
        colour = ZONE_COLOURS[zone.kind]
        points = np.array([[round(x), round(y)] for x, y in zone.points], dtype=np.int32)
        cv2.polylines(image, [points], True, colour, 2, cv2.LINE_AA)
        left, top = points.min(axis=0)
        _label(image, f"{zone.name} ({zone.kind})", (int(left) + 4, int(top) + 24), colour)
    return encode(image)
