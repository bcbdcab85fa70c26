"""MQTT delivery to the real Mosquitto on 127.0.0.1:1883, checked by a real subscriber."""

from __future__ import annotations

import json
import queue
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fallwatch.alerts.notifiers.messages import Routing
from fallwatch.alerts.notifiers.notifier import Notifier
from fallwatch.alerts.records import DeliveryStatus
from fallwatch.alerts.store import open_store
from fallwatch.core.config import MqttConfig, NotifyConfig
from tests.alerts.conftest import fall_items

HOST, PORT = "127.0.0.1", 1883


pytestmark = pytest.mark.usefixtures("mqtt_broker")


def subscribe(topic: str) -> tuple[mqtt.Client, queue.Queue[tuple[str, dict[str, Any], bool]]]:
    received: queue.Queue[tuple[str, dict[str, Any], bool]] = queue.Queue()
    subscribed = queue.Queue[int]()
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}"
    )
    client.on_message = lambda _c, _u, m: received.put((m.topic, json.loads(m.payload), bool(m.retain)))
    client.on_subscribe = lambda *_args: subscribed.put(1)
    client.connect(HOST, PORT)
    client.subscribe(topic, qos=1)
    client.loop_start()
    subscribed.get(timeout=5)
    return client, received


def test_a_subscriber_receives_the_incident_and_a_late_one_the_retained_state(tmp_path: Path) -> None:
    camera = f"cam-{uuid.uuid4().hex[:8]}"  # a fresh camera: no retained state from earlier runs
    prefix = "fallwatch"
    config = NotifyConfig(mqtt=MqttConfig(enabled=True, host=HOST, port=PORT, topic_prefix=prefix))
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}", Routing.from_config(config))
    live, received = subscribe(f"{prefix}/{camera}/#")
    notifier = Notifier(store, config, secret=None)
    try:
        opened, escalated = fall_items(camera)[:2]
        store.incidents.apply(opened)
        store.incidents.apply(escalated)
        while notifier.run_once():
            pass
        messages = [received.get(timeout=5) for _ in range(4)]
        incidents = [
            (m[1]["event"], m[1]["severity"]) for m in messages if m[0] == f"{prefix}/{camera}/incidents"
        ]
        assert incidents == [("incident.opened", "warning"), ("incident.escalated", "critical")]
        states = [m[1] for m in messages if m[0] == f"{prefix}/{camera}/state"]
        assert states[-1]["alarm"] is True and states[-1]["severity"] == "critical"

        late, late_received = subscribe(f"{prefix}/{camera}/state")
        topic, state, retained = late_received.get(timeout=5)
        assert (topic, retained, state["alarm"], state["camera"]) == (
            f"{prefix}/{camera}/state",
            True,
            True,
            camera,
        )
        assert [i["kind"] for i in state["incidents"]] == ["collapse"]
        late.loop_stop()
        late.disconnect()
        assert {e.status for e in store.outbox.entries()} == {DeliveryStatus.DELIVERED}
    finally:
        notifier.close()
        live.loop_stop()
        live.disconnect()
        cleaner = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        cleaner.connect(HOST, PORT)
        cleaner.loop_start()
        cleaner.publish(f"{prefix}/{camera}/state", b"", qos=1, retain=True).wait_for_publish(5)  # clear it
        cleaner.loop_stop()
        cleaner.disconnect()
        store.close()


def test_an_unreachable_broker_keeps_the_message_pending(tmp_path: Path) -> None:
    config = NotifyConfig(mqtt=MqttConfig(enabled=True, host=HOST, port=1, timeout_s=1))
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}", Routing.from_config(config))
    store.incidents.apply(fall_items()[0])
    notifier = Notifier(store, config, secret=None)
    try:
        assert notifier.run_once() == 1
    finally:
        notifier.close()
    [entry] = store.outbox.entries()
    assert entry.status is DeliveryStatus.PENDING and "MQTT broker 127.0.0.1:1" in (entry.last_error or "")
    store.close()
