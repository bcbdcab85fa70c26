"""`fallwatch run` and Home Assistant through the real Mosquitto: online when it starts, `offline` from the
broker (its last will) when it is SIGKILLed, online again when restarted, offline when stopped cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from fallwatch.alerts.notifiers.mqtt import BrokerOptions, MqttSession

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.live, pytest.mark.slow]


class Last:
    def __init__(self, pattern: str) -> None:
        self.payloads: dict[str, bytes] = {}
        self.session = MqttSession(BrokerOptions())
        self.session.subscribe(pattern, lambda topic, payload: self.payloads.__setitem__(topic, payload))

    def wait_for(self, topic: str, payload: bytes, timeout_s: float, process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + timeout_s
        while self.payloads.get(topic) != payload:
            if time.monotonic() > deadline or (process.poll() is not None and payload == b"online"):
                _out, err = process.communicate(timeout=30) if process.poll() is not None else ("", "")
                pytest.fail(f"{topic} is {self.payloads.get(topic)!r}, expected {payload!r}; {err[-2000:]}")
            time.sleep(0.05)

    def wait_present(self, topic: str, timeout_s: float) -> bytes:
        """Another connection's messages may arrive before this one's: wait for the topic, not for the order."""
        deadline = time.monotonic() + timeout_s
        while topic not in self.payloads:
            if time.monotonic() > deadline:
                pytest.fail(f"nothing on {topic} within {timeout_s:.0f} s; seen: {sorted(self.payloads)}")
            time.sleep(0.05)
        return self.payloads[topic]


def start(tmp_path: Path, prefix: str, run: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FALLWATCH_SERVER__METRICS_PORT": "0",
        "FALLWATCH_NOTIFY__MQTT__ENABLED": "true",
        "FALLWATCH_NOTIFY__MQTT__TOPIC_PREFIX": prefix,
        "FALLWATCH_NOTIFY__MQTT__KEEPALIVE_S": "5",
        "FALLWATCH_NOTIFY__MQTT__HOME_ASSISTANT__DISCOVERY_PREFIX": f"ha-{run}",
        "FALLWATCH_NOTIFY__MQTT__HOME_ASSISTANT__NODE_ID": f"fw-{run}",
    }
    # A camera that never connects: the worker stays up (retrying it) without a stream to serve.
    command = [sys.executable, "-m", "fallwatch.app.cli", "run", "--source", "http://127.0.0.1:9/live.ts",
               "--camera", "ward", "--data-dir", str(tmp_path / "data")]  # fmt: skip
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_home_assistant_sees_fallwatch_die_and_come_back(tmp_path: Path) -> None:
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker on 127.0.0.1:1883 (CI starts Mosquitto): {exc}")
    run = uuid.uuid4().hex[:8]
    prefix = f"fw-{run}"
    availability = f"{prefix}/availability"
    watcher = Last(f"{prefix}/#")
    discovery = Last(f"ha-{run}/#")
    first = start(tmp_path, prefix, run)
    second: subprocess.Popen[str] | None = None
    try:
        watcher.wait_for(availability, b"online", 120, first)
        config = json.loads(discovery.wait_present(f"ha-{run}/binary_sensor/fw-{run}/ward_fall/config", 30))
        assert {"topic": availability} in config["availability"]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        watcher.wait_for(availability, b"offline", 30, first)  # the broker's last will, not FallWatch's word
        second = start(tmp_path, prefix, run)
        watcher.wait_for(availability, b"online", 120, second)
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
        watcher.wait_for(availability, b"offline", 10, second)  # said by FallWatch itself on a clean stop
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
        for session in (watcher, discovery):
            for topic, payload in session.payloads.items():
                if payload:
                    session.session.publish(topic, b"", retain=True)
            session.session.close()
