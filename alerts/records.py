"""What the store hands out: frozen dataclasses, never ORM rows, so no session state leaks past alerts/store.py.

`WriteItem` is what goes into the store: one engine event with its context. It has a stable `uid`, so writing the
same item twice (a retry after the database went away mid-commit) applies it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fallwatch.alerts.engine import ScoreSample
from fallwatch.core.types import Box, EventKind, IncidentEvent, Severity


class Status(StrEnum):
    """Where a person's review of an incident stands (the engine's phase is recorded separately)."""

    OPEN = "open"  # nobody has looked at it yet
    ACKNOWLEDGED = "acknowledged"  # someone has taken it
    RESOLVED = "resolved"  # acknowledged and over (the person got up, or the track ended)
    FALSE_ALARM = "false_alarm"  # someone decided it was not a fall


class IncidentKind(StrEnum):
    FALL = "fall"
    COLLAPSE = "collapse"


class Outcome(StrEnum):
    RECOVERED = "recovered"
    CLOSED = "closed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # refused for good (a 4xx); recorded, never retried
    EXPIRED = "expired"  # not delivered before its expiry


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class MediaRefs:
    """Evidence paths relative to the media root (the files may still be being written)."""

    snapshot: str | None = None
    clip: str | None = None


@dataclass(frozen=True, slots=True)
class WriteItem:
    uid: str
    event: IncidentEvent
    at: datetime  # wall time of detection
    zone: str | None = None
    samples: tuple[ScoreSample, ...] = ()
    media: MediaRefs | None = None
    box: Box | None = None  # the track's box at the event, source pixels (drawn on the snapshot)
    lease_epoch: int | None = None  # the camera's lease this worker held (None: no lease, a one-off run)

    def to_json(self) -> dict[str, Any]:
        e = self.event
        return {
            "uid": self.uid,
            "event": {
                "kind": e.kind.value,
                "incident_key": e.incident_key,
                "camera": e.camera,
                "track_id": e.track_id,
                "pts": e.pts,
                "severity": e.severity.value,
                "score": e.score,
            },
            "at": self.at.isoformat(),
            "zone": self.zone,
            "samples": [[s.pts, s.normal, s.falling, s.lying] for s in self.samples],
            "media": None
            if self.media is None
            else {"snapshot": self.media.snapshot, "clip": self.media.clip},
            "box": None if self.box is None else list(self.box),
            "lease_epoch": self.lease_epoch,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WriteItem:
        e = data["event"]
        media = data.get("media")
        return cls(
            uid=str(data["uid"]),
            event=IncidentEvent(
                kind=EventKind(e["kind"]),
                incident_key=str(e["incident_key"]),
                camera=str(e["camera"]),
                track_id=int(e["track_id"]),
                pts=float(e["pts"]),
                severity=Severity(e["severity"]),
                score=float(e["score"]),
            ),
            at=datetime.fromisoformat(data["at"]),
            zone=data.get("zone"),
            samples=tuple(ScoreSample(*(float(v) for v in s)) for s in data.get("samples", [])),
            media=None if media is None else MediaRefs(media.get("snapshot"), media.get("clip")),
            box=_box(data.get("box")),  # absent in items spooled before boxes were stored
            lease_epoch=_optional_int(data.get("lease_epoch")),  # absent before workers shared cameras
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _box(value: Any) -> Box | None:
    if value is None:
        return None
    x1, y1, x2, y2 = (float(v) for v in value)
    return (x1, y1, x2, y2)


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    key: str
    camera: str
    track_id: int
    kind: IncidentKind
    severity: Severity
    status: Status
    zone: str | None
    opened_pts: float
    opened_at: datetime
    escalated_at: datetime | None
    ended_at: datetime | None
    outcome: Outcome | None
    score: float  # the latest event's score
    peak_score: float  # the highest falling score seen
    snapshot_path: str | None
    clip_path: str | None
    notes: str
    updated_at: datetime
    updated_by: str

    @property
    def active(self) -> bool:
        """Whether the engine is still following it (nothing has ended it yet)."""
        return self.outcome is None


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """Who changed what and when: one row per field changed, by a person or by 'engine'."""

    at: datetime
    by: str
    field: str
    old: str | None
    new: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    kind: EventKind
    pts: float
    at: datetime
    track_id: int
    severity: Severity
    score: float
    box: Box | None = None  # the track's box at the event (None for events stored before boxes were)


@dataclass(frozen=True, slots=True)
class InProgress:
    """An incident the engine had not ended when its worker stopped writing: what a successor needs to follow on."""

    key: str
    track_id: int  # the last worker's track: a number of its own tracker, kept only to be shown
    zone: str | None
    severity: Severity
    box: Box | None  # the person's box at the last event
    last_event_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    incident_id: int
    camera: str
    destination: str  # the configured name of the receiver
    target: str  # http(s):// URL or mqtt://host:port/prefix
    event: str  # e.g. incident.opened
    delivery_id: str  # stable across retries: receivers dedupe on it
    payload: str  # the JSON body, exactly as sent
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    at: datetime
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float


# --- what the dashboard reads and writes besides incidents --------------------------------------------------------


class CameraState(StrEnum):
    """What a worker last said about one of its cameras."""

    CONNECTED = "connected"  # frames are arriving
    RECONNECTING = "reconnecting"  # the source failed or stalled; the worker is trying again
    STOPPED = "stopped"  # the worker stopped reading it (shut down, or the file ended)
    BEHIND = "behind"  # frames arrive but too few of them are analysed; the detail says how many


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """A worker's latest report on one camera (one row per camera, replaced by each report)."""

    camera: str
    state: CameraState
    fps: float  # frames analysed per second, measured by the worker
    dropped: int  # frames dropped since the worker started (live sources drop the oldest when behind)
    reconnects: int  # reconnections since the worker started
    frame_path: str | None  # a recent frame (JPEG), relative to the media root
    detail: str | None  # why it is reconnecting or stopped, in a few words
    updated_at: datetime
    worker: str | None = None  # the worker whose lease covers the camera now, if any
    worker_since: datetime | None = None  # since when it has held the camera


@dataclass(frozen=True, slots=True)
class CameraLease:
    """Who analyses a camera. `epoch` counts changes of hands; an expired lease is free to take."""

    camera: str
    worker: str | None
    epoch: int
    acquired_at: datetime | None
    expires_at: datetime | None

    def held_at(self, now: datetime) -> bool:
        return self.worker is not None and self.expires_at is not None and self.expires_at > now


@dataclass(frozen=True, slots=True)
class WorkerRecord:
    """A registered `fallwatch run` process and the cameras it held when asked."""

    name: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    max_cameras: int
    metrics_port: int | None
    cameras: tuple[str, ...] = ()

    def live_at(self, now: datetime, lease_s: float) -> bool:
        """Still heard from within one lease: its cameras are its own until then."""
        return self.stopped_at is None and (now - self.heartbeat_at).total_seconds() < lease_s


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Which incidents to list; an empty tuple or None means any. `since`/`until` bound when the incident opened."""

    cameras: tuple[str, ...] = ()
    kinds: tuple[IncidentKind, ...] = ()
    severities: tuple[Severity, ...] = ()
    statuses: tuple[Status, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200
    active: bool | None = None  # True: still followed by the engine (no outcome yet); False: over

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("since and until must be timezone-aware")
        if not 1 <= self.limit <= 1_000_000:
            raise ValueError(f"limit must be between 1 and 1000000, got {self.limit}")


@dataclass(frozen=True, slots=True)
class IncidentCounts:
    """How many incidents a query matches, by review status, and how many critical ones nobody has taken."""

    total: int = 0
    open: int = 0
    acknowledged: int = 0
    resolved: int = 0
    false_alarm: int = 0
    critical_open: int = 0
    active: int = 0  # still followed by the engine (the person has not got up, the track has not ended)


@dataclass(frozen=True, slots=True)
class DashboardUser:
    """A dashboard user kept in the database; only the password's hash (argon2) is stored."""

    name: str
    password_hash: str
    created_at: datetime
    updated_at: datetime


def event_name(kind: str) -> str:
    """An incident message's event (the outbox's `event`, a webhook's X-FallWatch-Event): incident.opened, ..."""
    return f"incident.{kind}"
