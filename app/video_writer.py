"""Writing MP4 files with PyAV, timed by each frame's stream time, atomically (temporary name, then rename)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import av.error

from app.errors import FallWatchError
from app.types import Image

_TIME_BASE = Fraction(1, 1000)


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
    """Frames in, a playable MP4 out; the file appears under its name only once it is complete."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self._tmp = path.with_name(f".{path.name}.part")
        self._container: Any = None
        self._stream: Any = None
        self._last_pts = -1

    def __enter__(self) -> Mp4Writer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
        except (av.error.FFmpegError, OSError) as exc:
            raise FallWatchError(f"{self.path}: cannot write video ({exc})") from None
        return self

    def write(self, image: Image, pts_s: float) -> None:
        if self._stream is None:
            self._open_stream(image.shape[1], image.shape[0])
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        # Strictly increasing timestamps: the muxer refuses repeats.
        pts = max(round(pts_s * 1000), self._last_pts + 1)
        frame.pts, frame.time_base = pts, _TIME_BASE
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def _open_stream(self, width: int, height: int) -> None:
        stream = self._container.add_stream(pick_codec(), rate=Fraction(round(self.fps * 1000), 1000))
        # Encoders want even sizes for 4:2:0 chroma.
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = _TIME_BASE
        stream.codec_context.time_base = _TIME_BASE
        self._stream = stream

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._stream is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
        if exc_type is None and self._stream is not None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
