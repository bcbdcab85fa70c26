"""Evidence for each incident: a snapshot JPEG and an MP4 clip with pre-roll and post-roll.

Each camera keeps its most recent frames in a bounded ring buffer. When an incident opens, the frame at that
moment becomes the snapshot and the buffered frames of the last `pre_roll_s` start the clip; the frames of the
next `post_roll_s` are added as they arrive. Files are written under a temporary name and renamed into place, so
a reader never sees half a file. Paths handed back are relative to the media root.

Clips are H.264 (libx264) when this PyAV build has it, else MPEG-4 Part 2, with each frame at its stream time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import cv2

from fallwatch.alerts.records import MediaRefs
from fallwatch.core.config import MediaConfig, is_valid_name
from fallwatch.core.files import write_atomic
from fallwatch.core.types import Frame, Image
from fallwatch.ingest.video_writer import Mp4Writer, VideoError

log = logging.getLogger("fallwatch.media")

NOMINAL_FPS = 10  # the container's nominal rate; each frame is written at its own stream time


def safe_name(key: str) -> str:
    """An incident key as a file name (keys hold '/' and ':')."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", key).strip("._") or "incident"


def camera_folder(camera: str) -> str:
    """A camera's folder under the media root: one plain path component whatever the name.

    Settings only let valid names in, and those are used as they are; any other name (one from an older
    database, or from code that skipped the settings) becomes a sanitised one with a hash, so that it can neither
    lead out of the root nor share a folder with another camera.
    """
    if is_valid_name(camera):
        return camera
    digest = hashlib.sha256(camera.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{safe_name(camera)[:48]}-{digest}"


def relative_paths(camera: str, key: str, wall: datetime) -> MediaRefs:
    folder = f"{camera_folder(camera)}/{wall:%Y-%m-%d}"
    name = safe_name(key)
    return MediaRefs(snapshot=f"{folder}/{name}.jpg", clip=f"{folder}/{name}.mp4")


class MediaPathError(ValueError):
    """A media path that would lead out of the media root."""


def inside_root(root: Path, relative: str) -> Path:
    """`root / relative`, or MediaPathError unless it stays inside `root` once '..' and absolute parts are
    resolved: the last guard, behind valid names and `camera_folder`, for every path joined from a name."""
    path = root / relative
    base, full = os.path.abspath(root), os.path.abspath(path)
    if full == base or os.path.commonpath([base, full]) != base:
        raise MediaPathError(f"{relative!r}: media path leads out of the media root {root}")
    return path


def encode_jpeg(image: Image, quality: int) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buffer.tobytes())


@dataclass(slots=True)
class _Recording:
    key: str
    end_pts: float
    writer: Mp4Writer


@dataclass(slots=True)
class _CameraMedia:
    ring: deque[Frame]
    recordings: list[_Recording] = field(default_factory=list)


class EvidenceRecorder:
    """Ring buffers per camera and the clips being recorded. Use from the analysis loop (one thread)."""

    def __init__(self, config: MediaConfig, root: Path):
        self.config = config
        self.root = root
        self._cameras: dict[str, _CameraMedia] = {}

    def _camera(self, name: str) -> _CameraMedia:
        if name not in self._cameras:
            self._cameras[name] = _CameraMedia(ring=deque(maxlen=self.config.buffer_frames))
        return self._cameras[name]

    def push(self, frame: Frame) -> list[str]:
        """Buffer a frame and add it to the clips it belongs to; returns keys of clips finished by it."""
        camera = self._camera(frame.camera)
        camera.ring.append(frame)
        finished = []
        for recording in list(camera.recordings):
            if frame.pts > recording.end_pts:
                camera.recordings.remove(recording)
                if self._close(recording):
                    finished.append(recording.key)
            else:
                recording.writer.write(frame.image, frame.pts)
        return finished

    def start(self, key: str, camera: str, pts: float, wall: datetime) -> MediaRefs:
        """Write the snapshot now and start the clip around `pts`; returns the paths (relative to the root)."""
        refs = relative_paths(camera, key, wall)
        state = self._camera(camera)
        snapshot_frame = self._at(state.ring, pts)
        if snapshot_frame is None:
            return MediaRefs()  # no frame of this camera seen yet: nothing to show
        assert refs.snapshot is not None and refs.clip is not None
        try:
            snapshot, clip = inside_root(self.root, refs.snapshot), inside_root(self.root, refs.clip)
        except MediaPathError as exc:
            # The incident itself matters more than its evidence: it is still stored, without files.
            log.error("no evidence for %s: %s", key, exc)
            return MediaRefs()
        write_atomic(snapshot, encode_jpeg(snapshot_frame.image, self.config.jpeg_quality))
        start = pts - self.config.pre_roll_s
        pre_roll = [f for f in state.ring if start <= f.pts <= pts + self.config.post_roll_s]
        first = pre_roll[0] if pre_roll else snapshot_frame
        writer = Mp4Writer(clip, NOMINAL_FPS, crf=self.config.crf, start_pts=first.pts).open()
        for frame in pre_roll:
            writer.write(frame.image, frame.pts)
        state.recordings.append(_Recording(key, pts + self.config.post_roll_s, writer))
        return refs

    def finish(self, camera: str | None = None) -> list[str]:
        """End of stream: close the clips being recorded with what they have."""
        finished = []
        for name, state in self._cameras.items():
            if camera is not None and name != camera:
                continue
            for recording in state.recordings:
                if self._close(recording):
                    finished.append(recording.key)
            state.recordings.clear()
        return finished

    @staticmethod
    def _at(ring: deque[Frame], pts: float) -> Frame | None:
        """The last frame at or before `pts` (else the first after it)."""
        before = [f for f in ring if f.pts <= pts]
        if before:
            return before[-1]
        return ring[0] if ring else None

    @staticmethod
    def _close(recording: _Recording) -> bool:
        try:
            return recording.writer.close()
        except VideoError as exc:
            log.error("clip for %s could not be written: %s", recording.key, exc)
            recording.writer.abort()
            return False
