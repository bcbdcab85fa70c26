"""A live camera on loopback that plays whether anyone watches or not, as an IP camera does.

ffmpeg loops a clip at a fraction of real time, re-encoded with a keyframe every few frames so that a viewer who
joins late starts at once, into a relay that serves every HTTP client from the current point: a worker that
connects after another died sees the stream where it is now, not from its start.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

CHUNK = 188 * 64  # whole MPEG-TS packets: a viewer dropped behind loses packets, never half of one
BACKLOG_CHUNKS = 256  # per viewer; a paused viewer (SIGSTOP) loses the oldest instead of stalling the others


class LiveCamera:
    def __init__(self, ffmpeg: str, clip: Path, rate: float) -> None:
        self.rate = rate
        self._viewers: list[queue.Queue[bytes | None]] = []
        self._lock = threading.Lock()
        command = [ffmpeg, "-nostdin", "-loglevel", "error", "-readrate", str(rate), "-stream_loop", "-1",
                   "-i", str(clip), "-an", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                   "-g", "5", "-bf", "0", "-threads", "1", "-f", "mpegts", "pipe:1"]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.started_at: float | None = None  # wall time of the stream's first byte: stream time 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/live.ts"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        threading.Thread(target=self._relay, daemon=True).start()

    def wall_time(self, stream_s: float) -> float:
        """When the stream shows its time `stream_s` (wall clock, time.time())."""
        assert self.started_at is not None, "the stream has not started"
        return self.started_at + stream_s / self.rate

    def viewers(self) -> int:
        with self._lock:
            return len(self._viewers)

    def stop(self) -> None:
        self._process.kill()
        self._process.wait(10)
        self._server.shutdown()
        self._server.server_close()

    def _relay(self) -> None:
        assert self._process.stdout is not None
        while True:
            chunk = self._process.stdout.read(CHUNK)
            if not chunk:
                break
            if self.started_at is None:
                self.started_at = time.time()
            with self._lock:
                viewers = list(self._viewers)
            for viewer in viewers:
                if viewer.full():
                    with contextlib.suppress(queue.Empty):
                        viewer.get_nowait()
                viewer.put_nowait(chunk)
        with self._lock:
            for viewer in self._viewers:
                viewer.put_nowait(None)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                viewer: queue.Queue[bytes | None] = queue.Queue(BACKLOG_CHUNKS)
                with camera._lock:
                    camera._viewers.append(viewer)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "video/mp2t")
                    self.end_headers()
                    while (chunk := viewer.get()) is not None:
                        self.wfile.write(chunk)
                except OSError:
                    pass  # the viewer went away (closed, killed)
                finally:
                    with camera._lock:
                        camera._viewers.remove(viewer)

            def log_message(self, *_args: Any) -> None:
                pass

        return Handler
