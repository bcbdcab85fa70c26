"""Fixtures for the alerts tests: stores on the real databases of tests/conftest.py, and engine-made events."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from fallwatch.alerts.engine import AlertEngine
from fallwatch.alerts.notifiers.messages import Routing
from fallwatch.alerts.records import WriteItem, utcnow
from fallwatch.alerts.store import Store, open_store
from fallwatch.core.config import AlertsConfig
from fallwatch.core.types import Prediction

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


@pytest.fixture(scope="module")
def mqtt_broker() -> None:
    """The real Mosquitto on loopback, or the module is skipped with the reason (CI starts it)."""
    try:
        socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2).close()
    except OSError as exc:
        pytest.skip(f"no MQTT broker on {MQTT_HOST}:{MQTT_PORT} (CI starts Mosquitto): {exc}")


N = {"normal": 0.9, "falling": 0.05, "lying": 0.05}
F = {"normal": 0.05, "falling": 0.9, "lying": 0.05}
L = {"normal": 0.05, "falling": 0.05, "lying": 0.9}


@pytest.fixture
def store_factory(db_url: str) -> Iterator[object]:
    opened: list[Store] = []

    def factory(routing: Routing | None = None) -> Store:
        store = open_store(db_url, routing)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def fall_items(
    camera: str = "hall", track: int = 1, start: float = 0.0, stay_down_s: float = 12.0
) -> list[WriteItem]:
    """Write items made by the real engine: a fall at `start`, lying still, then getting up."""
    engine = AlertEngine(AlertsConfig(smoothing=1.0), run_id=f"{uuid.uuid4().hex[:6]}:")
    box = (100.0, 240.0, 300.0, 300.0)
    rows = [(start + 0.5 * i, F) for i in range(2)]
    rows += [(start + 1.0 + 0.5 * i, L) for i in range(int(stay_down_s * 2))]
    rows += [(start + 1.0 + stay_down_s + 0.5 * i, N) for i in range(3)]
    alerts = [a for pts, scores in rows for a in engine.feed(Prediction(camera, track, pts, scores, box))]
    alerts += engine.finish()
    return [WriteItem(uuid.uuid4().hex, a.event, utcnow(), a.zone, a.samples) for a in alerts]
