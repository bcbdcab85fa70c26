"""The one MP4 writer (PyAV): frames timed by their stream time, written atomically (temporary name, then rename).

Incident clips and `fallwatch track --render` both write through it.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error
import numpy as np

from fallwatch.core.errors import FallWatchError
from fallwatch.core.files import partial_path
from fallwatch.core.types import Image

_TIME_BASE = Fraction(1, 1000)  # timestamps in milliseconds of stream time
_FALLBACK_BIT_RATE = 2_000_000

VideoError = (av.error.FFmpegError, OSError)  # what writing a video can raise: callers catch these


def pick_codec() -> str:
    """H.264 plays everywhere (browsers included); MPEG-4 part 2 is the fallback of FFmpeg builds without x264."""
    for name in ("libx264", "h264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
            return name
        except (av.error.FFmpegError, ValueError):
            continue
    raise FallWatchError("no MP4 video encoder available in this PyAV build (expected libx264 or mpeg4)")


class Mp4Writer:
    """Frames in, a playable MP4 out; the file appears under its name only once it is complete.

    The frame size is the first frame's (cut to even sides, as 4:2:0 chroma needs); a frame of another size, or
    one whose time does not come after the previous one's, is skipped. `start_pts` is the stream time written as
    0; `crf` sets H.264's quality (the MPEG-4 fallback gets a fixed bit rate instead).
    """

    def __init__(self, path: Path, fps: float, *, crf: int | None = None, start_pts: float = 0.0) -> None:
        self.path = path
        self.fps = fps
        self.crf = crf
        self.start_pts = start_pts
        self.frames = 0
        self._tmp = partial_path(path)
        self._container: Any = None
        self._stream: Any = None
        self._size = (0, 0)
        self._last_ms = -1

    def __enter__(self) -> Mp4Writer:
        return self.open()

    def open(self) -> Mp4Writer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
        except VideoError as exc:
            raise FallWatchError(f"{self.path}: cannot write video ({exc})") from None
        return self

    def write(self, image: Image, pts_s: float) -> bool:
        """Adds one frame; False when it was skipped (not after the previous one, or of another size)."""
        if self._stream is None:
            self._open_stream(image.shape[1], image.shape[0])
        ms = round((pts_s - self.start_pts) * 1000)
        if ms <= self._last_ms:
            return False  # already covered (a clip's pre-roll and the live feed overlap by one frame)
        width, height = self._size
        image = image[:height, :width]
        if image.shape[:2] != (height, width):
            return False  # a smaller frame: the source changed resolution, not mixable into this file
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts, frame.time_base = ms, _TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self._last_ms = ms
        self.frames += 1
        return True

    def _open_stream(self, width: int, height: int) -> None:
        codec = pick_codec()
        stream = self._container.add_stream(codec, rate=Fraction(round(self.fps * 1000), 1000))
        self._size = (width - width % 2, height - height % 2)
        stream.width, stream.height = self._size
        stream.pix_fmt = "yuv420p"
        stream.time_base = _TIME_BASE
        stream.codec_context.time_base = _TIME_BASE
        if self.crf is not None and codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        elif self.crf is not None:
            stream.bit_rate = _FALLBACK_BIT_RATE
        self._stream = stream

    def close(self) -> bool:
        """Finishes the file; True when it holds at least one frame and is now in place."""
        try:
            if self._stream is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
        if self.frames == 0:
            self._tmp.unlink(missing_ok=True)
            return False
        os.replace(self._tmp, self.path)
        return True

    def abort(self) -> None:
        try:
            self._container.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
