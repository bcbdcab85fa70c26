"""Labelled training windows cut from track histories, with augmentations that fit CCTV.

A window is `frames` consecutive analysed frames of one track (or every second frame: a faster fall), labelled
by `recognizer.labels`. Augmentations: horizontal flip, scale and crop jitter, brightness and contrast, blur,
grayscale (night infrared), temporal jitter (random window starts) and speed change.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import LABELS, Motion
from fallwatch.recognizer.trajectory import trajectory_features
from fallwatch.training.histories import ClipHistory, TrackHistory
from fallwatch.training.labels import fall_times, faller, window_label

Clip = npt.NDArray[np.uint8]  # (T, S, S, 3) BGR


@dataclass(frozen=True, slots=True)
class Window:
    clip: str  # manifest-relative path of the video
    group: str  # subject_or_scene
    source: str
    track: TrackHistory
    start: int  # index of the first frame in the track history
    step: int  # 1: real speed; 2: every second frame (twice as fast)
    label: int  # index into LABELS
    pad: int = 0  # leading copies of the first frame: a track shorter than the window, as the tubelet pads it

    def frames(self, length: int) -> Clip:
        return self.track.crops[self._span(length)]

    def trajectory(self, length: int) -> npt.NDArray[np.float32]:
        """The box and keypoint trajectory of the same frames (`recognizer.trajectory`)."""
        span = self._span(length)
        return trajectory_features(self.track.boxes[span], self.track.keypoints[span])

    def boxes(self, length: int) -> npt.NDArray[np.float32]:
        """The source-pixel boxes of the same frames (what the tubelet carries)."""
        return self.track.boxes[self._span(length)]

    def motion(self, length: int) -> Motion:
        """How the boxes of the same frames moved, as a tubelet's would (`Tubelet.motion`)."""
        return Motion.of(self.boxes(length), self.track.pts[self._span(length)])

    def looks_down(self, length: int) -> bool:
        """Whether the person looks low or goes low in these frames (a box as wide as it is tall, or one that
        loses a quarter of its height): in a `normal` window, the daily life most like a fall."""
        boxes = self.boxes(length)
        width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        return bool((width >= height).any() or height.min() < 0.75 * height.max())

    def end(self, length: int) -> int:
        """Index in the track history of the window's last frame."""
        return self.start + (length - self.pad - 1) * self.step

    def _span(self, length: int) -> slice | npt.NDArray[np.intp]:
        if self.pad:
            return np.array([self.start] * self.pad + list(range(self.start, self.end(length) + 1)), np.intp)
        return slice(self.start, self.start + length * self.step, self.step)


def clip_windows(entry: ManifestEntry, history: ClipHistory, length: int, every: int = 2) -> list[Window]:
    """Every labelled window of the tracks that can be labelled honestly.

    In a fall clip only the person who falls is labelled (other people's windows are left out: nobody annotated
    them); in a daily-activity clip every track is `normal`.
    """
    if entry.is_fall:
        start = entry.fall_start_s if entry.fall_start_s is not None else 0.0
        end = entry.fall_end_s if entry.fall_end_s is not None else history.duration_s
        person = faller(history, start, end)
        tracks = [person] if person is not None else []
    else:
        tracks = list(history.tracks)
    windows = []
    for track in tracks:
        fall = fall_times(entry, track)
        for step in (1, 2):
            span = length * step
            for first in range(0, len(track) - span + 1, every):
                t0, t1 = float(track.pts[first]), float(track.pts[first + span - step])
                label = window_label(t0, t1, fall)
                if label is not None:
                    windows.append(Window(entry.relative, entry.group, entry.source, track, first, step,
                                          LABELS.index(label)))  # fmt: skip
    return windows


def augment(frames: Clip, rng: random.Random, mirrored: bool) -> Clip:
    """One random CCTV-like variation of a clip, the same for all its frames; `mirrored` flips it left to
    right (decided by the caller, so that the trajectory can be mirrored with it)."""
    out = frames.astype(np.float32)
    size = frames.shape[1]
    if mirrored:
        out = out[:, :, ::-1]
    if rng.random() < 0.5:
        out = _scale_jitter(out, rng.uniform(0.85, 1.15), rng.uniform(-0.08, 0.08) * size,
                            rng.uniform(-0.08, 0.08) * size)  # fmt: skip
    out = out * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)  # contrast, brightness
    if rng.random() < 0.2:
        sigma = rng.uniform(0.5, 1.5)
        out = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in out])
    if rng.random() < 0.2:
        grey = out @ np.array([0.114, 0.587, 0.299], dtype=np.float32)
        out = np.repeat(grey[..., None], 3, axis=-1)
    return np.clip(out, 0, 255).astype(np.uint8)


def _scale_jitter(
    frames: npt.NDArray[np.float32], scale: float, dx: float, dy: float
) -> npt.NDArray[np.float32]:
    size = frames.shape[1]
    centre = size / 2
    matrix = np.array([[scale, 0, (1 - scale) * centre + dx], [0, scale, (1 - scale) * centre + dy]])
    return np.stack([cv2.warpAffine(f, matrix, (size, size), borderMode=cv2.BORDER_CONSTANT) for f in frames])


UNLABELLED = -1


def stream_windows(entry: ManifestEntry, history: ClipHistory, length: int, stride: int) -> list[Window]:
    """The windows inference judges, as `detectors.tubelets.TubeletBuilder` emits them: every track, `length`
    consecutive frames, one ending every `stride` frames once the track has `length` of them, and when the track
    ends a last one with the frames not yet judged (a track shorter than `length` but at least half as long
    padded with its first frame), at real speed.

    Windows that `clip_windows` would label carry that label; the rest (other people in a fall clip, and
    windows across the fall's start that cannot be called) carry `UNLABELLED`.
    """
    person = None
    if entry.is_fall:
        start = entry.fall_start_s if entry.fall_start_s is not None else 0.0
        end = entry.fall_end_s if entry.fall_end_s is not None else history.duration_s
        person = faller(history, start, end)
    windows = []
    for track in history.tracks:
        labelled = not entry.is_fall or (person is not None and track.track_id == person.track_id)
        fall = fall_times(entry, track) if labelled else None
        for first, pad in _tubelet_starts(len(track), length, stride):
            window = Window(entry.relative, entry.group, entry.source, track, first, 1, UNLABELLED, pad)
            if labelled:
                name = window_label(float(track.pts[first]), float(track.pts[window.end(length)]), fall)
                window = replace(window, label=UNLABELLED if name is None else LABELS.index(name))
            windows.append(window)
    return windows


def _tubelet_starts(frames: int, length: int, stride: int) -> list[tuple[int, int]]:
    """(first frame, padding) of every tubelet a track of `frames` frames gives, its last flush included."""
    if frames < length:
        return [(0, length - frames)] if 2 * frames >= length else []
    starts = [(first, 0) for first in range(0, frames - length + 1, stride)]
    if starts[-1][0] + length < frames:  # frames seen since the last tubelet go out when the track ends
        starts.append((frames - length, 0))
    return starts
