"""A real clip served as a live HTTP MPEG-TS stream by ffmpeg: killed, stalled and restarted mid-stream."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fallwatch.core.config import IngestConfig
from fallwatch.core.manifest import ManifestEntry
from fallwatch.ingest.sources import DecodedFrame, LiveSource

pytestmark = pytest.mark.live


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StreamServer:
    """ffmpeg serving a clip in a loop, in real time, to one HTTP client."""

    def __init__(self, ffmpeg: str, clip: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/live.ts"
        self._command = [ffmpeg, "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", str(clip),
                         "-an", "-c:v", "copy", "-f", "mpegts", "-listen", "1", self.url]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGCONT)  # a stopped process must run to die
            self.process.kill()
            self.process.wait(5)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)


class Reader:
    """Runs a live source on a thread and records what arrives, with arrival times."""

    def __init__(self, source: LiveSource) -> None:
        self.source = source
        self.frames: list[tuple[float, DecodedFrame]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for frame in self.source.frames(self.stop):
                self.frames.append((time.monotonic(), frame))
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(15)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.frames) >= count or self.error is not None:
                return len(self.frames) >= count
            time.sleep(0.05)
        return False


@pytest.fixture
def server(ffmpeg: str, fall_clip: ManifestEntry) -> Iterator[StreamServer]:
    server = StreamServer(ffmpeg, fall_clip.path, _free_port())
    yield server
    server.kill()


def _config() -> IngestConfig:
    return IngestConfig(open_timeout_s=3, stall_timeout_s=2, reconnect_initial_s=0.2, reconnect_max_s=1)


def test_killed_server_is_reconnected_and_frames_resume(server: StreamServer) -> None:
    server.start()
    with Reader(LiveSource(server.url, _config())) as reader:
        assert reader.wait_for(30, timeout=20), f"no frames from the stream ({reader.error})"
        server.kill()
        time.sleep(1.5)  # the camera is down for a while: connection refused meanwhile
        before = len(reader.frames)
        killed_at = time.monotonic()
        server.start()
        assert reader.wait_for(before + 30, timeout=30), f"frames did not resume ({reader.error})"
    assert reader.error is None
    assert reader.source.stats.reconnects >= 1
    resumed = [arrived for arrived, _ in reader.frames[before:]]
    assert min(resumed) > killed_at
    times = [frame.pts for _, frame in reader.frames]
    assert all(b > a for a, b in itertools.pairwise(times)), "stream time must keep running"
    indices = [frame.index for _, frame in reader.frames]
    assert indices == list(range(1, len(indices) + 1))


def test_stalled_server_is_detected_and_reconnected(server: StreamServer) -> None:
    server.start()
    with Reader(LiveSource(server.url, _config())) as reader:
        assert reader.wait_for(20, timeout=20), f"no frames from the stream ({reader.error})"
        server.pause()  # the connection stays open but no byte arrives: only a stall timeout notices
        time.sleep(_config().stall_timeout_s + 1.5)
        assert not reader.source.stats.connected, "the stalled connection should have been dropped"
        server.kill()
        before = len(reader.frames)
        server.start()
        assert reader.wait_for(before + 20, timeout=30), f"frames did not resume ({reader.error})"
    assert reader.source.stats.reconnects >= 1
