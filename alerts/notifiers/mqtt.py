"""MQTT with paho-mqtt (it stays inside this module): connecting with the broker options, sessions that publish
and subscribe, and the outbox channel.

The channel sends each message on `<prefix>/<camera>/incidents`, and the camera's current state, retained, on
`<prefix>/<camera>/state` so that a subscriber that connects later learns it at once. A message counts as
delivered when the broker has acknowledged both (QoS 1 by default).
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from fallwatch.alerts.notifiers.base import Channel, SendResult, failed
from fallwatch.alerts.records import OutboxEntry
from fallwatch.core.config import MqttConfig
from fallwatch.core.errors import FallWatchError

MessageHandler = Callable[[str, bytes], None]  # (topic, payload)


class BrokerRefused(FallWatchError):
    """The broker would not have us: bad credentials, an untrusted certificate. Retrying cannot help."""


class BrokerUnreachable(FallWatchError):
    """No broker answered (down, or not started yet). Worth retrying."""


@dataclass(frozen=True, slots=True)
class BrokerOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = None  # a prefix; each connection adds a unique suffix
    keepalive_s: int = 30
    timeout_s: float = 10.0

    @classmethod
    def from_config(cls, config: MqttConfig, password: str | None) -> BrokerOptions:
        return cls(
            config.host, config.port, config.username, password, config.uses_tls, config.ca_file,
            config.cert_file, config.key_file, config.client_id, config.keepalive_s, config.timeout_s,
        )  # fmt: skip

    @property
    def broker(self) -> str:
        return f"MQTT broker {self.host}:{self.port}"


def connect(
    options: BrokerOptions, will: tuple[str, str] | None = None, on_message: MessageHandler | None = None
) -> mqtt.Client:
    """A connected client with its network loop running; `will` (topic, payload) is retained as the last will.

    Raises BrokerRefused (one line naming the broker and why) or BrokerUnreachable.
    """
    prefix = options.client_id or f"fallwatch-{socket.gethostname()}-{os.getpid()}"
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{uuid.uuid4().hex[:6]}"
    )
    if options.username is not None:
        client.username_pw_set(options.username, options.password)
    if options.tls:
        client.tls_set(
            ca_certs=_path(options.ca_file),
            certfile=_path(options.cert_file),
            keyfile=_path(options.key_file),
        )
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    if on_message is not None:
        client.on_message = lambda _c, _u, message: on_message(message.topic, bytes(message.payload))
    answer: list[ReasonCode] = []
    connected = threading.Event()

    def on_connect(_c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        answer.append(reason)
        connected.set()

    client.on_connect = on_connect
    _open(client, options)
    client.loop_start()
    if not connected.wait(options.timeout_s):
        client.loop_stop()
        raise BrokerUnreachable(f"{options.broker}: no answer to CONNECT within {options.timeout_s:g} s")
    if answer[0].is_failure:
        client.loop_stop()
        client.disconnect()
        raise BrokerRefused(f"{options.broker} refused the connection: {str(answer[0]).lower()}")
    return client


def _open(client: mqtt.Client, options: BrokerOptions) -> None:
    try:
        client.connect(options.host, options.port, keepalive=options.keepalive_s)
    except ssl.SSLError as exc:
        reason = exc.reason or type(exc).__name__
        raise BrokerRefused(
            f"{options.broker}: TLS failed ({str(reason).lower().replace('_', ' ')}); check mqtt.ca_file, "
            "cert_file and key_file"
        ) from None
    except (OSError, ValueError) as exc:
        raise BrokerUnreachable(
            f"{options.broker}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
        ) from None


def _path(path: Path | None) -> str | None:
    return None if path is None else str(path)


def publish(
    client: mqtt.Client, topic: str, payload: str | bytes, *, qos: int, retain: bool, timeout_s: float
) -> None:
    """Publish and wait for the broker's acknowledgement (QoS 1 and 2); OSError when it does not come."""
    info = client.publish(topic, payload, qos=qos, retain=retain)
    if info.rc != mqtt.MQTT_ERR_SUCCESS:
        raise OSError(f"publish refused: {mqtt.error_string(info.rc)}")
    info.wait_for_publish(timeout_s)
    if not info.is_published():
        raise OSError(f"broker did not acknowledge {topic} within {timeout_s:g} s")


class MqttSession:
    """One long-lived connection that publishes and subscribes (Home Assistant's discovery, states, commands)."""

    def __init__(self, options: BrokerOptions, will: tuple[str, str] | None = None) -> None:
        self.options = options
        self._handlers: dict[str, MessageHandler] = {}
        self._client = connect(options, will, on_message=self._dispatch)
        self.connections = 1  # paho reconnects by itself after a lost connection; each one counts
        self._client.on_connect = self._reconnected

    def _reconnected(
        self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode, _p: object
    ) -> None:
        if reason.is_failure:
            return
        self.connections += 1
        for pattern in self._handlers:  # a new session on the broker knows none of our subscriptions
            client.subscribe(pattern, qos=1)

    def publish(self, topic: str, payload: str | bytes, *, retain: bool, qos: int = 1) -> None:
        publish(self._client, topic, payload, qos=qos, retain=retain, timeout_s=self.options.timeout_s)

    def subscribe(self, pattern: str, handler: MessageHandler) -> None:
        self._handlers[pattern] = handler
        self._client.subscribe(pattern, qos=1)

    def unsubscribe(self, pattern: str) -> None:
        self._handlers.pop(pattern, None)
        self._client.unsubscribe(pattern)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        for pattern, handler in list(self._handlers.items()):
            if mqtt.topic_matches_sub(pattern, topic):
                handler(topic, payload)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected())

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


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

    def __init__(
        self,
        state_of: Callable[[str], str],
        qos: int = 1,
        timeout_s: float = 10.0,
        options: BrokerOptions | None = None,
    ):
        """`state_of(camera)` gives the retained state JSON of a camera at the moment of sending; `options`
        (credentials, TLS) apply to every broker a target names."""
        self._state_of = state_of
        self._qos = qos
        self._options = replace(options or BrokerOptions(), timeout_s=timeout_s)
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
        timeout = self._options.timeout_s
        try:
            client = self._client(host, port)
            publish(client, incident_topic, entry.payload, qos=self._qos, retain=False, timeout_s=timeout)
            publish(
                client,
                state_topic,
                self._state_of(entry.camera),
                qos=self._qos,
                retain=True,
                timeout_s=timeout,
            )
        except FallWatchError as exc:  # refused or unreachable: said in one line, retried later
            self._drop(host, port)
            return failed(str(exc))
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
            client = connect(replace(self._options, host=host, port=port))
            self._clients[(host, port)] = client
            return client

    def _drop(self, host: str, port: int) -> None:
        with self._lock:
            client = self._clients.pop((host, port), None)
        if client is not None:
            client.loop_stop()
            client.disconnect()
