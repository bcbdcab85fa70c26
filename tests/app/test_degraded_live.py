"""Blind while saying ok, never again: `fallwatch run` on a live stream, then a CPU load of the test's own that it
cannot keep up under. /healthz must turn degraded naming the camera, the counters must say how much was really
analysed, the store must say the camera is behind, and all of it must come back once the load is gone."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fallwatch.alerts.records import CameraState, CameraStatus
from fallwatch.alerts.store import open_store
from tests.conftest import REPO
from tests.ingest.test_live import StreamServer, _free_port

pytestmark = [pytest.mark.live, pytest.mark.slow]

SAMPLE = REPO / "assets" / "sample" / "gmdcsa24_subject2_fall_12.mp4"
CAMERA = "live"
# Idle, 2 cores analyse about 20 fps (README, Speed); 3 is far under that, and far over what is left to the run
# among the spinners below.
FPS, MIN_FPS = 15, 3
SPINNERS = 24 * (os.cpu_count() or 2)  # each takes an equal share of the CPU: the run keeps a few percent
LOAD_MAX_S = 120  # a spinner ends on its own after this, even if the test dies without killing it
# The stream, the run and the spinners run ahead of other work on a shared machine (where allowed), so that the
# test's own load, not someone else's, decides when the run cannot keep up.
NICE = -10


def _ahead_of_others() -> None:
    # Not root: everything stays at the default priority, which an otherwise idle machine (CI) is fine with.
    with contextlib.suppress(PermissionError):
        os.nice(NICE)


class AheadStreamServer(StreamServer):
    def start(self) -> None:
        self.process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=_ahead_of_others)  # fmt: skip


class Run:
    """`fallwatch run` on a live stream as a subprocess, with its metrics server on a free port."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.port = _free_port()
        self.data_dir = data_dir
        env = {**os.environ, "FALLWATCH_SERVER__METRICS_PORT": str(self.port),
               "FALLWATCH_INGEST__FPS": str(FPS), "FALLWATCH_INGEST__MIN_ANALYSED_FPS": str(MIN_FPS)}  # fmt: skip
        command = [sys.executable, "-m", "fallwatch.app.cli", "run", "--source", url, "--camera", CAMERA,
                   "--data-dir", str(data_dir)]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, preexec_fn=_ahead_of_others)  # fmt: skip
        self.output: tuple[str, str] | None = None

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, {}  # not listening yet (models loading), or too starved to answer in time

    def counters(self) -> dict[str, float]:
        """This camera's frame counters, summed over any other labels."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        totals: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("camera") == CAMERA and sample.name.endswith("_total"):
                    totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
        return totals

    def status(self) -> CameraStatus | None:
        with open_store(f"sqlite:///{self.data_dir / 'fallwatch.db'}", upgrade=False) as store:
            return next((s for s in store.cameras.all() if s.camera == CAMERA), None)

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()[1][-3000:]
            if check():
                return
            time.sleep(1)
        raise AssertionError(f"{what} within {timeout_s:.0f} s; last /healthz: {self.health()}")

    def stop(self) -> tuple[str, str]:
        """SIGTERM, then what it printed (once: a second call returns the same)."""
        if self.output is None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                self.output = self.process.communicate(timeout=120)
            finally:
                if self.process.poll() is None:
                    self.process.kill()
        return self.output


@contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    """`processes` Python loops spinning on every core; all killed on the way out. This thread runs at their
    priority meanwhile, so that the test itself is not starved of the time to watch."""
    spin = f"import time\nend = time.monotonic() + {LOAD_MAX_S}\nwhile time.monotonic() < end:\n    pass\n"
    previous = os.getpriority(os.PRIO_PROCESS, 0)
    spinners = [
        subprocess.Popen([sys.executable, "-c", spin], preexec_fn=_ahead_of_others) for _ in range(processes)
    ]
    try:
        _ahead_of_others()
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait(10)
        with contextlib.suppress(PermissionError):
            os.setpriority(os.PRIO_PROCESS, 0, previous)


@pytest.fixture
def run(tmp_path: Path, ffmpeg: str) -> Iterator[Run]:
    server = AheadStreamServer(ffmpeg, SAMPLE, _free_port())
    server.start()
    run = Run(server.url, tmp_path / "data")
    try:
        yield run
    finally:
        run.stop()
        server.kill()


def _degraded(run: Run) -> bool:
    code, body = run.health()
    return code == 503 and body.get("status") == "degraded" and CAMERA in body.get("behind", {})


def _ok(run: Run) -> bool:
    code, body = run.health()
    return code == 200 and body.get("status") == "ok"


def _state(run: Run, state: CameraState) -> Callable[[], bool]:
    return lambda: (status := run.status()) is not None and status.state is state


def test_a_run_that_cannot_keep_up_says_so_and_recovers(run: Run) -> None:
    run.wait_for("frames analysed and /healthz ok", lambda: _ok(run) and run.counters().get(
        "fallwatch_frames_analysed_total", 0) > 30, timeout_s=240)  # fmt: skip
    picked, analysed = "fallwatch_frames_picked_total", "fallwatch_frames_analysed_total"
    skipped = "fallwatch_frames_skipped_total"
    unloaded = run.counters()
    with cpu_load(SPINNERS):
        run.wait_for("/healthz degraded naming the camera", lambda: _degraded(run), timeout_s=60)
        _, body = run.health()
        assert body["behind"][CAMERA].startswith("analysing "), body
        assert body["cameras"][CAMERA]["analysed_fps"] < MIN_FPS and body["cameras"][CAMERA]["connected"]
        run.wait_for("the store's camera status behind", _state(run, CameraState.BEHIND), timeout_s=30)
        loaded = run.counters()
    status = run.status()
    assert status is not None and status.detail is not None and status.detail.startswith("analysing ")
    # What was picked is not what was analysed: the difference was skipped, and said so, while the load lasted.
    assert loaded[picked] > loaded[analysed] and loaded[skipped] > unloaded[skipped]
    assert loaded[picked] - loaded[analysed] - loaded[skipped] <= 32 + 1  # the rest is queued or in flight

    run.wait_for("/healthz ok again once the load is gone", lambda: _ok(run), timeout_s=120)
    run.wait_for(
        "the store's camera status connected again", _state(run, CameraState.CONNECTED), timeout_s=30
    )
    assert run.counters()[analysed] > loaded[analysed]  # analysing again, at the rate the loop can do
    _, err = run.stop()
    assert run.process.returncode == 0, err[-3000:]
    assert f"{CAMERA} is behind: analysing" in err and f"{CAMERA} caught up" in err
