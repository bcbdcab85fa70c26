"""MQTT delivery with paho-mqtt: each message on `<prefix>/<camera>/incidents`, and the camera's current state,
retained, on `<prefix>/<camera>/state` so that a subscriber that connects later learns it at once.

A message counts as delivered when the broker has acknowledged both (QoS 1 by default).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from fallwatch.alerts.notifiers.base import Channel, SendResult, failed
from fallwatch.alerts.records import OutboxEntry


def topics(prefix: str, camera: str) -> tuple[str, str]:
    """(incident topic, retained state topic) of a camera."""
    return f"{prefix}/{camera}/incidents", f"{prefix}/{camera}/state"


def parse_target(target: str) -> tuple[str, int, str]:
    """mqtt://host:port/prefix -> (host, port, prefix)."""
    parts = urlsplit(target)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"not an mqtt://host:port/prefix target: {target}")
    return parts.hostname, parts.port or 1883, parts.path.strip("/") or "fallwatch"


class MqttChannel(Channel):
    """Each message on the camera's incident topic, then the camera's state, retained."""

    schemes = ("mqtt",)

    def __init__(self, state_of: Callable[[str], str], qos: int = 1, timeout_s: float = 10.0):
        """`state_of(camera)` gives the retained state JSON of a camera at the moment of sending."""
        self._state_of = state_of
        self._qos = qos
        self._timeout_s = timeout_s
        self._clients: dict[tuple[str, int], mqtt.Client] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.loop_stop()
                client.disconnect()
            self._clients.clear()

    def send(self, entry: OutboxEntry) -> SendResult:
        try:
            host, port, prefix = parse_target(entry.target)
        except ValueError as exc:
            return failed(str(exc), permanent=True)
        incident_topic, state_topic = topics(prefix, entry.camera)
        try:
            client = self._client(host, port)
            self._publish(client, incident_topic, entry.payload, retain=False)
            self._publish(client, state_topic, self._state_of(entry.camera), retain=True)
        except (OSError, RuntimeError, ValueError) as exc:
            self._drop(host, port)  # reconnect from scratch next time
            return failed(f"MQTT {host}:{port}: {exc}")
        return SendResult(ok=True)

    def _client(self, host: str, port: int) -> mqtt.Client:
        with self._lock:
            client = self._clients.get((host, port))
            if client is not None and client.is_connected():
                return client
            if client is not None:
                client.loop_stop()
            client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=f"fallwatch-{uuid.uuid4().hex[:12]}",
            )
            answer: list[str] = []
            connected = threading.Event()

            def on_connect(_c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
                answer.append(str(reason))
                connected.set()

            client.on_connect = on_connect
            client.connect(host, port, keepalive=30)
            client.loop_start()
            if not connected.wait(self._timeout_s) or answer != ["Success"]:
                client.loop_stop()
                raise OSError(
                    f"broker refused the connection ({answer[0]})" if answer else "no answer to CONNECT"
                )
            self._clients[(host, port)] = client
            return client

    def _publish(self, client: mqtt.Client, topic: str, payload: str, retain: bool) -> None:
        info = client.publish(topic, payload, qos=self._qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(f"publish refused: {mqtt.error_string(info.rc)}")
        info.wait_for_publish(self._timeout_s)
        if not info.is_published():
            raise OSError(f"broker did not acknowledge {topic} within {self._timeout_s:g} s")

    def _drop(self, host: str, port: int) -> None:
        with self._lock:
            client = self._clients.pop((host, port), None)
        if client is not None:
            client.loop_stop()
            client.disconnect()
