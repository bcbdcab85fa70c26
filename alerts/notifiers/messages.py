"""What is sent, and where: the JSON bodies of incident messages, the configured receivers, a camera's state.

The body is built when the event is stored (in the same transaction as the incident) and kept verbatim in the
outbox, so a message retried a day later says what was true when it happened, and its signature covers exactly
the bytes that were stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fallwatch.alerts.records import Incident, IncidentQuery, Status, utcnow
from fallwatch.alerts.store import Message, Store
from fallwatch.core.config import NotifyConfig

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Destination:
    name: str
    target: str  # http(s):// URL, or mqtt://host:port/topic-prefix


@dataclass(frozen=True, slots=True)
class Routing:
    """Where each new incident message goes, how media links are made, and how long a message may wait."""

    destinations: tuple[Destination, ...] = ()
    media_base_url: str | None = None
    expire_after_s: float = 86400.0

    @classmethod
    def from_config(cls, notify: NotifyConfig) -> Routing:
        destinations = [Destination(hook.name, hook.url) for hook in notify.webhooks]
        if notify.mqtt.enabled:
            mqtt = notify.mqtt
            destinations.append(Destination("mqtt", f"mqtt://{mqtt.host}:{mqtt.port}/{mqtt.topic_prefix}"))
        return cls(tuple(destinations), notify.media_base_url, notify.expire_after_s)

    def messages(
        self, incident: Incident, event: str, at: datetime, sequence: int, pts: float | None
    ) -> tuple[Message, ...]:
        """One message per receiver, all with the same body (the store queues them in its transaction)."""
        if not self.destinations:
            return ()
        body = incident_message(incident, event, at, sequence, self, pts)
        return tuple(Message(d.name, d.target, body) for d in self.destinations)

    def link(self, path: str | None) -> str | None:
        if path is None or self.media_base_url is None:
            return path
        return f"{self.media_base_url.rstrip('/')}/{path}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def incident_message(
    incident: Incident, event: str, at: datetime, sequence: int, routing: Routing, pts: float | None = None
) -> str:
    """The JSON body for one event of one incident; `sequence` orders an incident's messages for receivers."""
    body: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "event": event,
        "sequence": sequence,
        "at": _iso(at),
        "pts": pts,
        "incident_id": incident.id,
        "incident_key": incident.key,
        "camera": incident.camera,
        "track_id": incident.track_id,
        "kind": incident.kind.value,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "zone": incident.zone,
        "opened_at": _iso(incident.opened_at),
        "escalated_at": _iso(incident.escalated_at),
        "ended_at": _iso(incident.ended_at),
        "outcome": None if incident.outcome is None else incident.outcome.value,
        "score": round(incident.score, 4),
        "peak_score": round(incident.peak_score, 4),
        "snapshot_url": routing.link(incident.snapshot_path),
        "clip_url": routing.link(incident.clip_path),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def camera_state(store: Store, camera: str) -> str:
    """The retained state of a camera: its incidents still being followed, worst first."""
    query = IncidentQuery(cameras=(camera,), active=True, limit=50)
    active = [i for i in store.incidents.query(query) if i.status is not Status.FALSE_ALARM]
    active.sort(key=lambda i: (i.severity.value != "critical", -i.id))
    body = {
        "camera": camera,
        "alarm": bool(active),
        "severity": active[0].severity.value if active else None,
        "incidents": [
            {
                "incident_id": i.id,
                "kind": i.kind.value,
                "severity": i.severity.value,
                "status": i.status.value,
            }
            for i in active
        ],
        "updated_at": utcnow().isoformat(),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)
