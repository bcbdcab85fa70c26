"""The third input: a tubelet's box and keypoint trajectory as a small (T, F) array of numbers.

The crops show what a person looks like; they hide where the box went. A fall is also a box that drops and
turns wide within a second and a torso that swings from vertical to horizontal, and those numbers mean the same
in every scene. Every feature is made scale- and position-free, so that a person far from the camera and one
close to it give the same trajectory:

- the box: its centre's offset from the window's first box centre, and log width and height, all divided by
  the window's median box diagonal (which changes little while a person turns from tall to wide);
- five keypoint groups (head, shoulders, hips, knees, ankles): each group's mean position relative to the box
  centre, divided by the same scale, and whether the group was seen (confidence >= `MIN_CONFIDENCE`);
- the torso (hip midpoint to shoulder midpoint): the sine and cosine of its angle from upright, and whether
  both ends were seen.

Unseen values are 0 with their flag 0, so frames where the detector held a box without keypoints stay usable.
"""

from __future__ import annotations

import random

import numpy as np
import numpy.typing as npt

MIN_CONFIDENCE = 0.3
# COCO keypoint indices of each group.
GROUPS: tuple[tuple[int, ...], ...] = ((0, 1, 2, 3, 4), (5, 6), (11, 12), (13, 14), (15, 16))
SHOULDERS, HIPS = GROUPS[1], GROUPS[2]
BOX_FEATURES = 4  # dx, dy, log w, log h
FEATURES = BOX_FEATURES + 3 * len(GROUPS) + 3

# Multiplying by this mirrors the trajectory left to right (every x offset and the torso angle's sine change
# sign), as a horizontally flipped clip needs.
MIRROR = np.ones(FEATURES, dtype=np.float32)
MIRROR[0] = -1.0
MIRROR[BOX_FEATURES : BOX_FEATURES + 3 * len(GROUPS) : 3] = -1.0
MIRROR[-3] = -1.0

FloatArray = npt.NDArray[np.float32]


def trajectory_features(boxes: npt.ArrayLike, keypoints: npt.ArrayLike) -> FloatArray:
    """(T, FEATURES) float32 from T boxes (x1, y1, x2, y2) and T x 17 x 3 keypoints (x, y, conf; NaN if none)."""
    box = np.asarray(boxes, dtype=np.float64)
    points = np.asarray(keypoints, dtype=np.float64)
    if box.ndim != 2 or box.shape[1] != 4 or points.shape != (box.shape[0], 17, 3) or len(box) == 0:
        raise ValueError(f"need (T, 4) boxes and (T, 17, 3) keypoints, got {box.shape} and {points.shape}")
    width = np.maximum(box[:, 2] - box[:, 0], 1.0)
    height = np.maximum(box[:, 3] - box[:, 1], 1.0)
    centre = np.stack([(box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2], axis=1)
    scale = float(np.median(np.hypot(width, height)))
    columns = [
        (centre[:, 0] - centre[0, 0]) / scale,
        (centre[:, 1] - centre[0, 1]) / scale,
        np.log(width / scale),
        np.log(height / scale),
    ]
    seen = np.nan_to_num(points[:, :, 2], nan=0.0) >= MIN_CONFIDENCE
    means = []
    for group in GROUPS:
        mean, present = _group_mean(points[:, group, :2], seen[:, group])
        means.append((mean, present))
        offset = np.where(present[:, None], (mean - centre) / scale, 0.0)
        columns += [offset[:, 0], offset[:, 1], present.astype(np.float64)]
    columns += _torso(means[GROUPS.index(SHOULDERS)], means[GROUPS.index(HIPS)])
    return np.stack(columns, axis=1).astype(np.float32)


def _group_mean(
    xy: npt.NDArray[np.float64], seen: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Per frame, the mean of the group's seen points and whether any was seen."""
    count = seen.sum(axis=1)
    total = np.where(seen[:, :, None], np.nan_to_num(xy), 0.0).sum(axis=1)
    present = count > 0
    return total / np.maximum(count, 1)[:, None], present


def _torso(
    shoulders: tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]],
    hips: tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]],
) -> list[npt.NDArray[np.float64]]:
    """sin and cos of the hip-to-shoulder vector's angle from upright (image y points down), and a flag."""
    present = shoulders[1] & hips[1]
    vector = shoulders[0] - hips[0]
    length = np.maximum(np.hypot(vector[:, 0], vector[:, 1]), 1e-6)
    sine = np.where(present, vector[:, 0] / length, 0.0)
    cosine = np.where(present, -vector[:, 1] / length, 0.0)
    return [sine, cosine, present.astype(np.float64)]


def augment_trajectory(features: FloatArray, rng: random.Random, mirrored: bool) -> FloatArray:
    """The trajectory of an augmented clip: mirrored with it, a little position noise, a keypoint group
    sometimes unseen (as when an arm or the head is occluded)."""
    out = features * MIRROR if mirrored else features.copy()
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0.0, 0.01, size=out.shape).astype(np.float32)
    out[:, :BOX_FEATURES] += noise[:, :BOX_FEATURES]
    if rng.random() < 0.2:
        group = rng.randrange(len(GROUPS))
        first = BOX_FEATURES + 3 * group
        out[:, first : first + 3] = 0.0  # the torso columns stay: the shipped model was trained so
    return out
