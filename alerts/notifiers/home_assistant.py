"""Home Assistant over MQTT: discovery, availability, the states its entities read, and review commands.

Home Assistant finds FallWatch by itself from retained discovery messages
(`<discovery_prefix>/<component>/<node_id>/<object_id>/config`). Each camera is one device with a "fall detected"
binary sensor (on while an incident is followed), a sensor with the last incident's kind (its severity and status
as attributes), an image entity with that incident's snapshot and a sensor with the camera's connection state;
with `commands` on, an "acknowledge" and a "false alarm" button. Entities are available while FallWatch is
(`<topic_prefix>/availability`: `online`, and `offline` as the broker's last will when the process dies) and,
except the connection sensor, while their camera is being watched.

The bridge reads everything it publishes from the store, every `poll_s`, and publishes what changed: the store is
the truth, so a bridge that reconnects, or runs beside several workers, publishes the same.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fallwatch import __version__
from fallwatch.alerts.notifiers.messages import camera_state
from fallwatch.alerts.notifiers.mqtt import BrokerUnreachable, MqttSession
from fallwatch.alerts.records import CameraState, Incident, Status
from fallwatch.alerts.store import Store
from fallwatch.core.config import MqttConfig
from fallwatch.core.errors import FallWatchError

log = logging.getLogger("fallwatch.home_assistant")

ONLINE, OFFLINE = "online", "offline"
WATCHING = frozenset({CameraState.CONNECTED.value, "behind"})  # frames arrive (perhaps fewer than asked)
COMMANDS = ("acknowledge", "false_alarm")


@dataclass(frozen=True, slots=True)
class Topics:
    """FallWatch's own topics for one camera (all retained but `command`)."""

    prefix: str
    camera: str

    @property
    def availability(self) -> str:
        return f"{self.prefix}/{self.camera}/availability"

    @property
    def connection(self) -> str:
        return f"{self.prefix}/{self.camera}/connection"

    @property
    def state(self) -> str:
        return f"{self.prefix}/{self.camera}/state"

    @property
    def last_incident(self) -> str:
        return f"{self.prefix}/{self.camera}/last_incident"

    @property
    def snapshot(self) -> str:
        return f"{self.prefix}/{self.camera}/snapshot"

    @property
    def command(self) -> str:
        return f"{self.prefix}/{self.camera}/command"


def availability_topic(prefix: str) -> str:
    return f"{prefix}/availability"


def object_id(camera: str, entity: str) -> str:
    # Home Assistant allows [a-zA-Z0-9_-] in object ids; camera names may also hold '.'.
    return f"{camera.replace('.', '_')}_{entity}"


def discovery(config: MqttConfig, camera: str) -> dict[str, dict[str, Any]]:
    """The discovery messages of one camera: {config topic: payload}."""
    ha, topics = config.home_assistant, Topics(config.topic_prefix, camera)
    device = {
        "identifiers": [f"fallwatch_{camera}"],
        "name": f"FallWatch {camera}",
        "manufacturer": "FallWatch",
        "model": "Fall detection",
        "sw_version": __version__,
    }
    watched = [{"topic": availability_topic(config.topic_prefix)}, {"topic": topics.availability}]
    entities: dict[tuple[str, str], dict[str, Any]] = {
        ("binary_sensor", "fall"): {
            "name": "Fall detected",
            "device_class": "safety",
            "state_topic": topics.state,
            "value_template": "{{ 'ON' if value_json.alarm else 'OFF' }}",
            "json_attributes_topic": topics.state,
        },
        ("sensor", "last_incident"): {
            "name": "Last incident",
            "icon": "mdi:human-handsdown",
            "state_topic": topics.last_incident,
            "value_template": "{{ value_json.kind }}",
            "json_attributes_topic": topics.last_incident,
        },
        ("image", "snapshot"): {
            "name": "Last incident snapshot",
            "image_topic": topics.snapshot,
            "content_type": "image/jpeg",
        },
        ("sensor", "connection"): {
            "name": "Camera connection",
            "device_class": "enum",
            "options": ["connected", "behind", "reconnecting", "stopped"],
            "state_topic": topics.connection,
            "entity_category": "diagnostic",
        },
    }
    if ha.commands:
        for action, name in (("acknowledge", "Acknowledge"), ("false_alarm", "False alarm")):
            entities[("button", action)] = {
                "name": name,
                "command_topic": topics.command,
                "payload_press": action,
            }
    messages = {}
    for (component, entity), payload in entities.items():
        oid = object_id(camera, entity)
        messages[f"{ha.discovery_prefix}/{component}/{ha.node_id}/{oid}/config"] = {
            **payload,
            "unique_id": f"{ha.node_id}_{oid}",
            "object_id": f"{ha.node_id}_{oid}",  # entity ids: sensor.fallwatch_hall_last_incident, ...
            "device": device,
            "availability": watched[:1] if entity == "connection" else watched,
            "availability_mode": "all",
            "origin": {"name": "FallWatch", "sw_version": __version__},
        }
    return messages


def last_incident_body(incident: Incident) -> str:
    body = {
        "incident_id": incident.id,
        "kind": incident.kind.value,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "opened_at": incident.opened_at.isoformat(),
        "zone": incident.zone,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


class HomeAssistantBridge:
    """Keeps Home Assistant's view of this worker's cameras in step with the store, on its own thread."""

    def __init__(
        self,
        store: Store,
        cameras: Sequence[str],
        config: MqttConfig,
        media_root: Path,
        connect: Callable[[tuple[str, str]], MqttSession],
    ) -> None:
        """`connect(will)` opens the session; it raises a one-line FallWatchError when the broker refuses us."""
        self.store, self.cameras, self.config, self.media_root = store, list(cameras), config, media_root
        self._connect = connect
        self._session: MqttSession | None = None
        self._connections = 0
        self._published: dict[str, str | bytes] = {}
        self._stop = threading.Event()
        self._reassert = (
            threading.Event()
        )  # another worker said offline for all of FallWatch: say online again
        self._thread = threading.Thread(target=self._loop, name="home-assistant", daemon=True)

    @property
    def _prefix(self) -> str:
        return self.config.topic_prefix

    def start(self) -> HomeAssistantBridge:
        """Connect and announce; a broker that refuses us (credentials, certificate) is a one-line error here,
        one that is not up yet is waited for on the bridge's thread."""
        try:
            self._open()
        except BrokerUnreachable as exc:
            log.warning("%s; Home Assistant is told once it answers", exc)
        self._thread.start()
        return self

    def _open(self) -> None:
        session = self._connect((availability_topic(self._prefix), OFFLINE))
        self._session = session
        if self.config.home_assistant.commands:
            session.subscribe(f"{self._prefix}/+/command", self._command)
        session.subscribe(availability_topic(self._prefix), self._availability_said)
        self._greet(session)

    def _availability_said(self, _topic: str, payload: bytes) -> None:
        """Workers share the availability topic, and each one's last will (or clean stop) says `offline` for
        all: while this one runs, it says `online` again. Published from the bridge's thread: this callback runs
        on the MQTT client's, which must not wait for its own acknowledgements."""
        if payload == OFFLINE.encode() and not self._stop.is_set():
            self._reassert.set()

    def _greet(self, session: MqttSession) -> None:
        """After each (re)connection: the broker has published our last will, so say online and all again."""
        self._connections = session.connections
        self._published.clear()
        self._announce(session)  # the entities exist before they are told FallWatch is online
        session.publish(availability_topic(self._prefix), ONLINE, retain=True)
        self.publish_changes()

    def stop(self) -> None:
        """A clean stop says `offline` itself: the broker sends the last will only for a connection that died."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        if self._session is not None:
            try:
                self._session.publish(availability_topic(self._prefix), OFFLINE, retain=True)
            except OSError as exc:
                log.warning("could not say offline to Home Assistant: %s", exc)
            self._session.close()

    def _announce(self, session: MqttSession) -> None:
        """Publish every camera's discovery and remove what an earlier run published for cameras now gone."""
        wanted: dict[str, dict[str, Any]] = {}
        for camera in self.cameras:
            wanted.update(discovery(self.config, camera))
        ha = self.config.home_assistant
        for topic in self._retained(session, f"{ha.discovery_prefix}/+/{ha.node_id}/+/config"):
            if topic not in wanted:
                session.publish(topic, b"", retain=True)  # an empty retained config removes the entity
                log.info("removed Home Assistant entity %s (its camera left the settings)", topic)
        for topic, payload in wanted.items():
            session.publish(topic, json.dumps(payload, sort_keys=True), retain=True)

    @staticmethod
    def _retained(session: MqttSession, pattern: str, timeout_s: float = 5.0) -> list[str]:
        """Topics under `pattern` that hold a retained message now (an end marker shows the broker sent all)."""
        found: list[str] = []
        done = threading.Event()
        marker = f"fallwatch-marker/{uuid.uuid4().hex}"
        session.subscribe(pattern, lambda topic, payload: found.append(topic) if payload else None)
        session.subscribe(marker, lambda _t, _p: done.set())
        session.publish(marker, b"end", retain=False)
        if not done.wait(timeout_s):
            log.warning(
                "broker did not list retained discovery within %.0f s; stale entities may remain", timeout_s
            )
        return found

    def _loop(self) -> None:
        while not self._stop.wait(self.config.home_assistant.poll_s):
            try:
                self.publish_changes()
            except (
                FallWatchError,
                OSError,
            ) as exc:  # the store or the broker is away: next round tries again
                log.warning("Home Assistant states not published: %s", exc)

    def publish_changes(self) -> None:
        if self._reassert.is_set() and self._session is not None:
            self._reassert.clear()
            self._session.publish(availability_topic(self._prefix), ONLINE, retain=True)
            log.info("another worker said offline for FallWatch; said online again (this one runs)")
        statuses = {s.camera: s.state.value for s in self.store.cameras.all()}
        latest = self.store.incidents.latest_by_camera()
        for camera in self.cameras:
            topics = Topics(self._prefix, camera)
            connection = statuses.get(camera, CameraState.STOPPED.value)
            self._publish_if_changed(topics.connection, connection)
            self._publish_if_changed(topics.availability, ONLINE if connection in WATCHING else OFFLINE)
            self._publish_if_changed(topics.state, camera_state(self.store, camera), ignore="updated_at")
            incident = latest.get(camera)
            if incident is not None:
                self._publish_if_changed(topics.last_incident, last_incident_body(incident))
                self._publish_snapshot(topics, incident)

    def _publish_snapshot(self, topics: Topics, incident: Incident) -> None:
        if incident.snapshot_path is None:
            return
        path = self.media_root / incident.snapshot_path
        key = f"{topics.snapshot}#{incident.snapshot_path}"
        if key in self._published or not path.is_file():
            return
        assert self._session is not None
        self._session.publish(topics.snapshot, path.read_bytes(), retain=True)
        self._published[key] = b""

    def _publish_if_changed(self, topic: str, payload: str, ignore: str | None = None) -> None:
        compared = _without(payload, ignore) if ignore else payload
        if self._published.get(topic) == compared:
            return
        assert self._session is not None
        self._session.publish(topic, payload, retain=True)
        self._published[topic] = compared

    def _command(self, topic: str, payload: bytes) -> None:
        camera = topic.split("/")[-2]
        try:
            self.review(camera, payload.decode("utf-8", errors="replace"))
        except FallWatchError as exc:
            log.warning("Home Assistant %s on %s refused: %s", payload[:40], camera, exc)

    def review(self, camera: str, command: str) -> Incident:
        """Apply `acknowledge` or `false_alarm` (or JSON {"action": ..., "incident_id": N}) to the camera's
        newest open incident, recorded as done by the configured user, as the dashboard records its users."""
        action, incident_id = _parse_command(command)
        if camera not in self.cameras:
            raise FallWatchError(f"camera {camera!r} is not one of this worker's cameras")
        if incident_id is None:
            incident_id = self._open_incident(camera)
        incidents, user = self.store.incidents, self.config.home_assistant.user
        note = "from Home Assistant"
        if action == "acknowledge":
            return incidents.acknowledge(incident_id, user, note)
        return incidents.mark_false_alarm(incident_id, user, note)

    def _open_incident(self, camera: str) -> int:
        latest = self.store.incidents.latest_by_camera().get(camera)
        if latest is None or latest.status is not Status.OPEN:
            raise FallWatchError(f"camera {camera!r} has no open incident to review")
        return latest.id


def _parse_command(command: str) -> tuple[str, int | None]:
    text = command.strip()
    action, incident_id = text.lower(), None
    if text.startswith("{"):
        try:
            data = json.loads(text)
            action, incident_id = str(data.get("action", "")).lower(), data.get("incident_id")
        except (json.JSONDecodeError, AttributeError):
            raise FallWatchError(f"command {text[:60]!r}: not valid JSON") from None
    if action not in COMMANDS or not (incident_id is None or isinstance(incident_id, int)):
        raise FallWatchError(
            f'command {text[:60]!r}: expected acknowledge, false_alarm or {{"action": ..., "incident_id": N}}'
        )
    return action, incident_id


def _without(payload: str, key: str | None) -> str:
    data = json.loads(payload)
    data.pop(key, None)
    return json.dumps(data, sort_keys=True)
