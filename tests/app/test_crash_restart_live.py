"""`fallwatch run` SIGKILLed, or stopped with SIGTERM, while a person is down, then started again on the same
store: the incident it left in progress is taken up by the new run (followed on, or closed), never left "in
progress" for ever nor closed while the person is down.

The shipped GMDCSA24 clip loops on a live loopback camera at half speed; a webhook receiver checks every
signature. The first run is told never to see a recovery or a collapse (`recover_windows` and
`collapse_after_s` out of reach), so the incident is surely still in progress when it is killed; the second runs
the shipped rules, so whatever it makes of the incident (followed on and escalated or recovered, or closed) is
told.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.receiver import Receiver
from tests.app.live_camera import LiveCamera
from tests.conftest import REPO
from tests.ingest.test_live import _free_port

pytestmark = [pytest.mark.live, pytest.mark.slow]

CLIP = REPO / "assets" / "sample" / "gmdcsa24_subject2_fall_12.mp4"
SECRET = "crash-restart-secret"
OPENED_WITHIN_S = (
    150.0  # models load, then the first fall of the loop (6.9 s of stream, 14 s of wall) is told
)
TAKEN_UP_WITHIN_S = 150.0  # models load again, then the carried-over incident waits 10 s of stream at most


@pytest.fixture
def camera(ffmpeg: str) -> Iterator[LiveCamera]:
    live = LiveCamera(ffmpeg, CLIP, rate=0.5)
    yield live
    live.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(SECRET).start()
    yield receiver
    receiver.stop()


def _start(
    camera: LiveCamera, receiver: Receiver, data_dir: Path, alerts: dict[str, str]
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FALLWATCH_WEBHOOK_SECRET": SECRET,
        "FALLWATCH_SERVER__METRICS_PORT": str(_free_port()),
        "FALLWATCH_MEDIA__ENABLED": "false",
        "OMP_NUM_THREADS": "1",
        **{f"FALLWATCH_ALERTS__{name.upper()}": value for name, value in alerts.items()},
    }
    command = [sys.executable, "-m", "fallwatch.app.cli", "run", "--source", camera.url, "--camera", "loop",
               "--data-dir", str(data_dir), "--webhook", receiver.url]  # fmt: skip
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _bodies(receiver: Receiver) -> list[dict[str, Any]]:
    with receiver._lock:  # the receiver's threads add to it while we read
        return list(receiver.applied.values())


def _wait_for(
    receiver: Receiver, wanted: Any, timeout_s: float, process: subprocess.Popen[str]
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [b for b in _bodies(receiver) if wanted(b)]
        if found:
            return found[0]
        if process.poll() is not None:
            pytest.fail(f"fallwatch run exited {process.returncode}: {process.communicate()[1][-3000:]}")
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"nothing wanted within {timeout_s} s: {[(b['event'], b['incident_id']) for b in _bodies(receiver)]}"
                f"\n{process.communicate()[1][-3000:]}")  # fmt: skip


def _outcome(data_dir: Path, incident_id: int) -> str | None:
    with sqlite3.connect(data_dir / "fallwatch.db") as db:
        (outcome,) = db.execute("SELECT outcome FROM incidents WHERE id = ?", (incident_id,)).fetchone()
    return outcome  # type: ignore[no-any-return]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_an_incident_left_by_a_stopped_or_killed_run_is_taken_up_by_the_next(
    tmp_path: Path, camera: LiveCamera, receiver: Receiver, stop: signal.Signals
) -> None:
    # Regressions: killed, the incident stayed in progress for ever; stopped (a rolling restart), it was closed
    # with the person still down. Either way its collapse could never be told.
    data_dir = tmp_path / "data"
    # Nobody gets up or collapses for the first run: the incident is surely in progress when it is killed.
    first = _start(camera, receiver, data_dir, {"recover_windows": "50", "collapse_after_s": "600"})
    try:
        opened = _wait_for(receiver, lambda b: b["event"] == "incident.opened", OPENED_WITHIN_S, first)
        first.send_signal(stop)
        _out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert stop is signal.SIGKILL or first.returncode == 0, err[-3000:]
    incident_id = opened["incident_id"]
    assert _outcome(data_dir, incident_id) is None  # left in progress: the person is still down

    second = _start(camera, receiver, data_dir, {})  # the shipped rules: whatever the person does is told
    try:
        later = _wait_for(
            receiver,
            lambda b: b["incident_id"] == incident_id and b["event"] != "incident.opened",
            TAKEN_UP_WITHIN_S,
            second,
        )
        second.send_signal(signal.SIGTERM)
        _out, err = second.communicate(timeout=120)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, err[-3000:]
    assert later["event"] in ("incident.closed", "incident.escalated", "incident.recovered"), later
    assert _outcome(data_dir, incident_id) is not None, "the incident is still in progress"
    told_twice = [
        b for b in _bodies(receiver) if b["incident_id"] == incident_id and b["event"] == "incident.opened"
    ]
    assert len(told_twice) == 1, told_twice  # taken up, not opened again
    assert receiver.bad_signatures == 0
