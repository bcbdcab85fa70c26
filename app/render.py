"""Drawing tracks on frames: boxes, track IDs and pose skeletons, for `fallwatch track --render`."""

from __future__ import annotations

import cv2
import numpy as np

from fallwatch.core.types import Frame, Image, Track

# COCO skeleton edges between keypoint indices.
SKELETON = (
    (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12),
    (11, 13), (13, 15), (12, 14), (14, 16), (0, 1), (0, 2), (1, 3), (2, 4),
)  # fmt: skip
MIN_KEYPOINT_CONF = 0.3


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per track ID (golden-ratio hue steps)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 180)
    bgr = cv2.cvtColor(np.array([[[hue, 220, 255]]], dtype=np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return (int(bgr[0]), int(bgr[1]), int(bgr[2]))


def draw_tracks(frame: Frame, tracks: list[Track]) -> Image:
    canvas: Image = frame.image.copy()
    ox, oy = frame.origin
    for track in tracks:
        colour = track_colour(track.track_id)
        x1, y1, x2, y2 = (round(v) for v in track.xyxy)
        x1, x2, y1, y2 = x1 - ox, x2 - ox, y1 - oy, y2 - oy
        # A coasting track (person not detected this frame) is drawn thin.
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, 2 if track.missed == 0 else 1)
        label = f"#{track.track_id} {track.score:.2f}"
        cv2.putText(
            canvas, label, (x1, max(y1 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA
        )
        if track.keypoints is not None:
            _draw_skeleton(canvas, track.keypoints, (ox, oy), colour)
    cv2.putText(
        canvas,
        f"{frame.pts:7.2f}s  frame {frame.index}",
        (8, 20),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.5,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return canvas


def _draw_skeleton(
    canvas: Image, keypoints: np.ndarray, origin: tuple[int, int], colour: tuple[int, int, int]
) -> None:
    points = [(int(x) - origin[0], int(y) - origin[1], c) for x, y, c in keypoints]
    for a, b in SKELETON:
        if points[a][2] >= MIN_KEYPOINT_CONF and points[b][2] >= MIN_KEYPOINT_CONF:
            cv2.line(canvas, points[a][:2], points[b][:2], colour, 2, cv2.LINE_AA)
    for x, y, c in points:
        if c >= MIN_KEYPOINT_CONF:
            cv2.circle(canvas, (x, y), 3, colour, -1, cv2.LINE_AA)
