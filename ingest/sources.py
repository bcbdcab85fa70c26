"""PyAV video sources: files, RTSP/HTTP streams and capture devices, as iterators of timed frames.

A file is read to its end and no frame is lost; a corrupt stretch is skipped and counted. A live source
reconnects with exponential backoff and jitter when it errors, ends or stalls, and its stream time keeps running
across reconnects so that decisions made on `pts` stay ordered.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import av
import av.error
import numpy as np
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from fallwatch.core.config import IngestConfig
from fallwatch.core.errors import SourceError, TruncatedVideoError
from fallwatch.core.types import Image

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
DEVICE_FORMATS = {"linux": "v4l2", "darwin": "avfoundation", "win32": "dshow"}


class SourceKind(StrEnum):
    FILE = "file"
    STREAM = "stream"
    DEVICE = "device"


def source_kind(source: str) -> SourceKind:
    """What a source string names; raises SourceError for a URL FallWatch cannot read."""
    if source.startswith("device:") or source.startswith("/dev/video"):
        return SourceKind.DEVICE
    scheme = urlsplit(source).scheme.lower()
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        if scheme not in STREAM_SCHEMES:
            raise SourceError(
                f"{source}: unsupported URL scheme '{scheme}' "
                f"(expected a file path, a device, or one of {', '.join(s + '://' for s in STREAM_SCHEMES)})"
            )
        if not urlsplit(source).hostname:
            raise SourceError(f"{source}: URL has no host (expected e.g. rtsp://camera.local:554/stream)")
        return SourceKind.STREAM
    return SourceKind.FILE


@dataclass
class SourceStats:
    """Counters of one source, updated by its decode thread and read by anyone."""

    decoded: int = 0
    analysed: int = 0
    dropped: int = 0
    corrupt: int = 0
    reconnects: int = 0
    connected: bool = False
    last_frame_wall: float = 0.0
    truncated: bool = False  # a file that ended early: what it held was read, the rest is missing


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    index: int  # 1-based over the whole life of the source, across reconnects
    pts: float  # stream seconds from the first frame
    frame: av.VideoFrame

    def to_bgr(self) -> Image:
        return np.asarray(self.frame.to_ndarray(format="bgr24"), dtype=np.uint8)


def _error_text(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip().rstrip(".")


def _looks_like_truncated_mp4(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(12)
    return head[4:8] == b"ftyp"


def open_file(path: Path) -> Any:
    """Opens a video file, or raises SourceError naming the file and what was expected."""
    if not path.exists():
        raise SourceError(f"{path}: file not found (expected a video file such as .mp4, .avi or .mkv)")
    if not path.is_file():
        raise SourceError(f"{path}: not a regular file (expected a video file)")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        if _looks_like_truncated_mp4(path):
            raise SourceError(
                f"{path}: MP4 file has no readable index (moov): it is truncated or still being written"
            ) from None
        raise SourceError(
            f"{path}: not a readable video ({_error_text(exc)}); expected a video file"
        ) from None
    if not container.streams.video:
        container.close()
        raise SourceError(f"{path}: has no video stream (expected a video file)")
    return container


class FileSource:
    """Every frame of a video file, in order; corrupt packets are skipped and counted."""

    live = False

    def __init__(self, path: Path, stats: SourceStats | None = None) -> None:
        self.path = path
        self.stats = stats or SourceStats()
        self._container = open_file(path)
        stream = self._container.streams.video[0]
        # Headers can overstate the frame count (edit lists); only the duration is trusted to spot a cut file.
        self.declared_frames = int(stream.frames or 0)
        self.declared_duration_s = _declared_duration(self._container, stream)
        self.size = (int(stream.codec_context.width), int(stream.codec_context.height))
        self.stats.connected = True

    def frames(self, stop: threading.Event | None = None) -> Iterator[DecodedFrame]:
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        clock = _StreamClock()
        last_pts = 0.0
        try:
            for packet in self._container.demux(stream):
                if stop is not None and stop.is_set():
                    return
                for frame in self._decode(packet):
                    self.stats.decoded += 1
                    self.stats.last_frame_wall = time.time()
                    last_pts = clock.pts(frame)
                    yield DecodedFrame(self.stats.decoded, last_pts, frame)
        except av.error.FFmpegError as exc:
            # Demuxing itself failed: the rest of the file cannot be reached.
            self.stats.truncated = True
            raise TruncatedVideoError(
                f"{self.path}: unreadable after frame {self.stats.decoded} ({_error_text(exc)})"
            ) from None
        finally:
            self._container.close()
        self._check_complete(last_pts)

    def _decode(self, packet: Any) -> list[Any]:
        try:
            return list(packet.decode())
        except av.error.FFmpegError as exc:
            self.stats.corrupt += 1
            log.warning(
                "%s: skipped a corrupt packet after frame %d (%s)",
                self.path,
                self.stats.decoded,
                _error_text(exc),
            )
            return []

    def _check_complete(self, last_pts: float) -> None:
        declared = self.declared_duration_s
        # The last frame starts one frame before the end; a shortfall of more than a tenth means a cut file.
        if declared > 1.0 and last_pts < declared * 0.9 - 0.25:
            self.stats.truncated = True
            raise TruncatedVideoError(
                f"{self.path}: file is truncated: decoded {self.stats.decoded} frames up to {last_pts:.1f} s "
                f"of {declared:.1f} s"
            )


def _declared_duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return float(container.duration or 0) / 1_000_000


class _StreamClock:
    """Stream seconds from the first frame, continuing across reconnects and frames without timestamps."""

    def __init__(self) -> None:
        self._first: float | None = None
        self._offset = 0.0
        self._last = 0.0
        self._last_wall = 0.0
        self._step = 1.0 / 30

    def restart(self) -> None:
        """A new connection: its timestamps start afresh, so continue from the last pts plus the time lost."""
        gap = max(time.monotonic() - self._last_wall, self._step) if self._last_wall else self._step
        self._offset = self._last + gap
        self._first = None

    def pts(self, frame: Any) -> float:
        raw = frame.time
        if raw is None:
            value = self._last + self._step
        else:
            if self._first is None:
                self._first = float(raw)
            value = self._offset + float(raw) - self._first
        if value > self._last and self._last > 0:
            self._step = min(value - self._last, 1.0)
        self._last = value
        self._last_wall = time.monotonic()
        return value


class _Stopped(Exception):
    """Connecting was given up because the source was asked to stop."""


class LiveSource:
    """A stream or capture device that is reconnected, with backoff and jitter, whenever it fails or stalls."""

    live = True

    def __init__(
        self,
        source: str,
        config: IngestConfig,
        stats: SourceStats | None = None,
        connect_attempts: int | None = None,
    ) -> None:
        self.source = source
        self.kind = source_kind(source)
        self.config = config
        self.stats = stats or SourceStats()
        # None: keep trying forever (a camera that is down at start-up may come back); N: give up after N tries.
        self.connect_attempts = connect_attempts
        self._ever_connected = False

    def frames(self, stop: threading.Event | None = None) -> Iterator[DecodedFrame]:
        stop = stop or threading.Event()
        clock = _StreamClock()
        while not stop.is_set():
            container = self._connect(stop)
            if container is None:
                return
            if self._ever_connected:
                self.stats.reconnects += 1
                clock.restart()
                log.warning("%s: reconnected (reconnect #%d)", self.source, self.stats.reconnects)
            self._ever_connected = True
            self.stats.connected = True
            try:
                yield from self._read(container, clock, stop)
            finally:
                self.stats.connected = False
                container.close()

    def _read(self, container: Any, clock: _StreamClock, stop: threading.Event) -> Iterator[DecodedFrame]:
        stream = container.streams.video[0]
        last_frame = time.monotonic()
        try:
            for packet in container.demux(stream):
                if stop.is_set():
                    return
                for frame in self._decode(packet):
                    last_frame = time.monotonic()
                    self.stats.decoded += 1
                    self.stats.last_frame_wall = time.time()
                    yield DecodedFrame(self.stats.decoded, clock.pts(frame), frame)
                if time.monotonic() - last_frame > self.config.stall_timeout_s:
                    log.warning(
                        "%s: no frame for %.1f s, reconnecting", self.source, self.config.stall_timeout_s
                    )
                    return
            log.warning("%s: stream ended, reconnecting", self.source)
        except (av.error.FFmpegError, OSError) as exc:
            log.warning("%s: stream error (%s), reconnecting", self.source, _error_text(exc))

    def _decode(self, packet: Any) -> list[Any]:
        try:
            return list(packet.decode())
        except av.error.FFmpegError:
            self.stats.corrupt += 1
            return []

    def _connect(self, stop: threading.Event) -> Any:
        def stop_trying(state: RetryCallState) -> bool:
            if stop.is_set():
                return True
            return self.connect_attempts is not None and state.attempt_number >= self.connect_attempts

        retrying = Retrying(
            wait=wait_exponential_jitter(
                multiplier=self.config.reconnect_initial_s,
                max=self.config.reconnect_max_s,
                jitter=self.config.reconnect_initial_s,
            ),
            retry=retry_if_exception_type((av.error.FFmpegError, OSError)),
            stop=stop_trying,
            sleep=self._sleep_unless_stopped(stop),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._open_unless_stopped, stop)
        except _Stopped:
            return None
        except (av.error.FFmpegError, OSError) as exc:
            if stop.is_set():
                return None
            raise SourceError(
                f"{self.source}: cannot connect ({_error_text(exc)}); expected a reachable video "
                f"{'device' if self.kind is SourceKind.DEVICE else 'stream'}"
            ) from None

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        # A one-off command that will give up shows only its final error; a camera retrying forever warns.
        level = logging.INFO if self.connect_attempts is not None else logging.WARNING
        log.log(level, "%s: cannot connect (%s), retrying", self.source, _error_text(error) if error else "?")

    @staticmethod
    def _sleep_unless_stopped(stop: threading.Event) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            stop.wait(seconds)  # a stop request cuts the backoff short

        return sleep

    def _open_unless_stopped(self, stop: threading.Event) -> Any:
        """`_open` on a helper thread, so that a stop request is not kept waiting for a slow connection to time
        out (PyAV's open cannot be interrupted from outside); a connection that comes too late is closed."""
        outcome: list[Any] = []  # the container, or the exception that opening raised
        done, given_up, lock = threading.Event(), threading.Event(), threading.Lock()

        def attempt() -> None:
            try:
                result: Any = self._open()
            except Exception as exc:
                result = exc
            with lock:
                if not given_up.is_set():
                    outcome.append(result)
                    done.set()
                    return
            if not isinstance(result, Exception):
                result.close()  # connected too late: nobody is waiting for it any more

        threading.Thread(target=attempt, name=f"open-{self.source}", daemon=True).start()
        while not done.wait(0.1):
            if stop.is_set():
                with lock:
                    if not done.is_set():
                        given_up.set()
                        raise _Stopped
        if isinstance(outcome[0], Exception):
            raise outcome[0]
        return outcome[0]

    def _open(self) -> Any:
        timeout = (self.config.open_timeout_s, self.config.stall_timeout_s)
        if self.kind is SourceKind.DEVICE:
            name = self.source.removeprefix("device:")
            fmt = DEVICE_FORMATS.get(sys.platform, "v4l2")
            container = av.open(name, format=fmt, timeout=timeout)
        else:
            options = {"rtsp_transport": "tcp"} if self.source.lower().startswith("rtsp") else {}
            container = av.open(self.source, options=options, timeout=timeout)
        if not container.streams.video:
            container.close()
            raise SourceError(f"{self.source}: has no video stream (expected a video stream)")
        return container


def crop_image(
    image: Image, crop: tuple[int, int, int, int] | None, source: str
) -> tuple[Image, tuple[int, int]]:
    """The region of interest of an image and its top-left corner in source pixels."""
    if crop is None:
        return image, (0, 0)
    height, width = image.shape[:2]
    x1, y1, x2, y2 = crop
    if x1 >= width or y1 >= height:
        raise SourceError(f"{source}: crop {list(crop)} lies outside the {width}x{height} image")
    region = np.ascontiguousarray(image[y1 : min(y2, height), x1 : min(x2, width)])
    return region, (x1, y1)


def open_source(
    source: str, config: IngestConfig, connect_attempts: int | None = None
) -> FileSource | LiveSource:
    """A file or live source for a source string; raises SourceError for a missing file or a bad URL."""
    kind = source_kind(source)
    if kind is SourceKind.FILE:
        return FileSource(Path(source))
    return LiveSource(source, config, connect_attempts=connect_attempts)
