"""End to end with the real parts: the shipped sample through `fallwatch run`, a real loopback webhook receiver,
SQLite, the clip and snapshot on disk; and a real daily-activity clip that must stay quiet."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

from fallwatch.core.manifest import ManifestEntry
from tests.conftest import REPO

SAMPLE = REPO / "assets" / "sample" / "gmdcsa24_subject2_fall_12.mp4"
SECRET = "test-secret-not-for-production"

pytestmark = pytest.mark.slow


class Receiver:
    """A webhook receiver on loopback that checks every signature."""

    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.verify(self.headers.get("X-FallWatch-Signature", ""), body):
                    receiver.messages.append({"event": self.headers["X-FallWatch-Event"],
                                              "delivery": self.headers["X-FallWatch-Delivery"],
                                              "body": json.loads(body)})  # fmt: skip
                    self.send_response(204)
                else:
                    receiver.bad_signatures += 1
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def verify(header: str, body: bytes) -> bool:
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        if not fields.get("t", "").isdigit() or abs(time.time() - int(fields["t"])) > 300:
            return False
        expected = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, fields.get("v1", ""))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(tmp_path: Path, source: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FALLWATCH_WEBHOOK_SECRET": SECRET,
        "FALLWATCH_SERVER__METRICS_PORT": str(_free_port()),
    }
    command = [sys.executable, "-m", "fallwatch.app.cli", "run", "--source", str(source), "--camera", "demo",
               "--data-dir", str(tmp_path / "data"), *extra]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=REPO, env=env)


def test_shipped_sample_gives_a_stored_signed_and_evidenced_incident(
    tmp_path: Path, receiver: Receiver
) -> None:
    result = _run(tmp_path, SAMPLE, "--webhook", receiver.url)
    assert result.returncode == 0, result.stderr[-2000:]
    database = tmp_path / "data" / "fallwatch.db"
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT i.id, c.name, i.kind, i.opened_pts, i.snapshot_path, i.clip_path"
            " FROM incidents i JOIN cameras c ON c.id = i.camera_id"
        ).fetchall()
    assert rows, result.stdout
    incident_id, camera, kind, opened_pts, snapshot, clip = rows[0]
    assert camera == "demo" and kind in ("fall", "collapse")
    assert opened_pts >= 6.9 - 1.0  # not before the annotated fall (6.9 s) less the protocol's 1 s
    opened = [m for m in receiver.messages if m["event"] == "incident.opened"]
    assert opened and receiver.bad_signatures == 0
    assert opened[0]["body"]["incident_id"] == incident_id  # type: ignore[index]
    assert len({m["delivery"] for m in receiver.messages}) == len(receiver.messages)
    media = tmp_path / "data" / "media"
    assert (media / snapshot).stat().st_size > 10_000
    with av.open(str(media / clip)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 30  # several seconds of playable video around the fall
    assert "incidents: 1" in result.stdout or "incidents: 2" in result.stdout


def test_a_daily_activity_clip_gives_no_incident(tmp_path: Path, manifest: list[ManifestEntry]) -> None:
    quiet = next(e for e in manifest if e.relative == "GMDCSA24/Subject 2/ADL/23.mp4")
    result = _run(tmp_path, quiet.path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "incidents: 0" in result.stdout
    with sqlite3.connect(tmp_path / "data" / "fallwatch.db") as db:
        assert db.execute("SELECT count(*) FROM incidents").fetchone() == (0,)


@pytest.mark.live
def test_sigterm_on_a_live_stream_drains_and_exits_cleanly(tmp_path: Path, ffmpeg: str) -> None:
    from tests.ingest.test_live import StreamServer, _free_port

    server = StreamServer(ffmpeg, SAMPLE, _free_port())
    server.start()
    env = {**os.environ, "FALLWATCH_SERVER__METRICS_PORT": str(_free_port())}
    command = [sys.executable, "-m", "fallwatch.app.cli", "run", "--source", server.url, "--camera", "live",
               "--data-dir", str(tmp_path / "data")]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(25)  # models load, the stream connects, frames flow
        assert process.poll() is None, process.communicate()[1][-2000:]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            process.kill()
        server.kill()
    assert process.returncode == 0, err[-2000:]
    assert "stopping; draining" in err
    analysed = int(out.split("analysed ")[1].split(" ")[0])
    assert analysed > 20, out
    with sqlite3.connect(tmp_path / "data" / "fallwatch.db") as db:
        state = db.execute("SELECT state FROM camera_status WHERE camera = 'live'").fetchone()
    assert state == ("stopped",)


def test_the_same_file_twice_gives_the_same_incidents(tmp_path: Path) -> None:
    from fallwatch.alerts.service import AlertService
    from fallwatch.app.pipeline import Pipeline
    from fallwatch.core.config import CameraConfig, load_settings
    from fallwatch.ingest.cameras import Camera
    from fallwatch.recognizer.infer import Recognizer

    settings = load_settings(data_dir=tmp_path, media={"enabled": False})
    recognizer = Recognizer(settings.recognizer)
    runs = []
    for attempt in range(2):
        alerts = AlertService.from_settings(settings, run_id=f"run{attempt}/")
        camera = Camera("demo", CameraConfig(source=str(SAMPLE)), settings.ingest)
        result = Pipeline(settings, recognizer, alerts).run([camera])
        runs.append([(e.kind, e.track_id, round(e.pts, 3), e.severity) for e in result.events])
    assert runs[0] and runs[0] == runs[1]


@pytest.mark.live
@pytest.mark.parametrize("url", ["http://127.0.0.1:9/live.ts", "rtsp://127.0.0.1:9/x"], ids=["http", "rtsp"])
def test_sigterm_stops_a_camera_that_never_connected(tmp_path: Path, url: str) -> None:
    # Nothing listens on port 9: the camera retries forever, and a stop must cut its connecting and backoff short.
    env = {**os.environ, "FALLWATCH_SERVER__METRICS_PORT": "0", "FALLWATCH_SERVER__FLUSH_TIMEOUT_S": "2"}
    command = [sys.executable, "-m", "fallwatch.app.cli", "run", "--source", url, "--camera", "down",
               "--data-dir", str(tmp_path / "data")]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stderr is not None
        seen = ""
        while "cannot connect" not in seen:  # the pipeline is running and the camera retrying
            line = process.stderr.readline()
            assert line, f"exited before retrying: {seen[-2000:]}"
            seen += line
        time.sleep(2)  # into a backoff wait
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, (seen + err)[-2000:]
    assert took < 2 + 8, f"took {took:.1f} s to stop"  # flush_timeout_s, plus a few seconds
    assert "stopping; draining" in err
    assert "Traceback" not in seen + err
    assert "camera down" in out


def test_a_file_cut_after_its_index_is_analysed_then_exits_3(
    tmp_path: Path, faststart_clip: ManifestEntry
) -> None:
    data = faststart_clip.path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    result = _run(tmp_path, cut)
    assert result.returncode == 3, result.stderr[-2000:]  # as the README says: read what is there, then 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("fallwatch: error:")]
    assert len(errors) == 1 and "truncated" in errors[0]
    assert "Traceback" not in result.stderr
    assert "camera demo: decoded" in result.stdout  # what could be read was analysed and summed up
