"""The outbox: messages queued in the same transaction as the incident they tell of, then claimed, tried and
recorded by notifiers (at least once, in order per incident and receiver).

The store does not say what a message says: a `MessageRouter` (the notifiers') writes the bodies and names the
receivers; the outbox keeps them verbatim.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, aliased

from fallwatch.alerts.records import DeliveryAttempt, DeliveryStatus, Incident, OutboxEntry, utcnow
from fallwatch.alerts.store.database import Database
from fallwatch.alerts.store.tables import AttemptRow, CameraRow, IncidentRow, OutboxRow


@dataclass(frozen=True, slots=True)
class Message:
    destination: str  # the configured name of the receiver
    target: str  # where it goes (a URL); the notifiers' dispatcher knows which channel serves it
    payload: str


class MessageRouter(Protocol):
    @property
    def expire_after_s(self) -> float:
        """How long a message may wait for delivery before it is given up."""
        ...

    def messages(
        self, incident: Incident, event: str, at: datetime, sequence: int, pts: float | None
    ) -> Sequence[Message]:
        """The messages one event of one incident sends (none when no receiver is configured)."""
        ...


class NoReceivers:
    """The router of a store that nobody is told from (tools, tests, the dashboard's reads)."""

    expire_after_s = 86400.0

    def messages(
        self, incident: Incident, event: str, at: datetime, sequence: int, pts: float | None
    ) -> Sequence[Message]:
        return ()


class Outbox:
    def __init__(self, db: Database, router: MessageRouter):
        self._db = db
        self.router = router

    def enqueue(
        self, session: Session, incident: Incident, event: str, at: datetime, sequence: int, pts: float | None
    ) -> int:
        """Queue the event's messages in the caller's transaction (the outbox pattern); returns how many."""
        messages = self.router.messages(incident, event, at, sequence, pts)
        now = utcnow()
        for message in messages:
            session.add(
                OutboxRow(
                    incident_id=incident.id,
                    destination=message.destination,
                    target=message.target,
                    event=event,
                    delivery_id=uuid.uuid4().hex,
                    payload=message.payload,
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                    expires_at=now + timedelta(seconds=self.router.expire_after_s),
                )
            )
        return len(messages)

    def entries(
        self, incident_id: int | None = None, status: DeliveryStatus | None = None
    ) -> list[OutboxEntry]:
        query = _outbox_query()
        if incident_id is not None:
            query = query.where(OutboxRow.incident_id == incident_id)
        if status is not None:
            query = query.where(OutboxRow.status == status.value)
        with self._db.transaction() as session:
            return [
                _entry(row, camera) for row, camera in session.execute(query.order_by(OutboxRow.id)).all()
            ]

    def attempts(self, outbox_id: int) -> list[DeliveryAttempt]:
        with self._db.transaction() as session:
            rows = session.scalars(
                select(AttemptRow).where(AttemptRow.outbox_id == outbox_id).order_by(AttemptRow.id)
            )
            return [DeliveryAttempt(r.at, r.ok, r.status_code, r.error, r.duration_ms) for r in rows]

    def expire_due(self, now: datetime) -> int:
        """Give up messages past their expiry (recorded as expired), unblocking the ones queued after them."""
        with self._db.transaction() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.status == DeliveryStatus.PENDING.value, OutboxRow.expires_at < now)
                .values(status=DeliveryStatus.EXPIRED.value, locked_until=None, locked_by=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def claim_due(self, now: datetime, owner: str, lease_s: float, limit: int) -> list[OutboxEntry]:
        """Take up to `limit` due messages for `owner` for `lease_s` seconds.

        Only the oldest pending message of each (incident, receiver) is due, so messages of an incident reach each
        receiver in order. A claim by a notifier that died runs out after the lease and is taken again.
        """
        earlier = aliased(OutboxRow)
        blocked = (
            select(earlier.id)
            .where(
                earlier.incident_id == OutboxRow.incident_id,
                earlier.destination == OutboxRow.destination,
                earlier.status == DeliveryStatus.PENDING.value,
                earlier.id < OutboxRow.id,
            )
            .exists()
        )
        free = or_(OutboxRow.locked_until.is_(None), OutboxRow.locked_until < now)
        with self._db.transaction() as session:
            ids = session.scalars(
                select(OutboxRow.id)
                .where(
                    OutboxRow.status == DeliveryStatus.PENDING.value,
                    OutboxRow.next_attempt_at <= now,
                    free,
                    ~blocked,
                )
                .order_by(OutboxRow.id)
                .limit(limit)
            ).all()
            claimed = []
            for outbox_id in ids:
                result = session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == outbox_id, OutboxRow.status == DeliveryStatus.PENDING.value, free)
                    .values(locked_until=now + timedelta(seconds=lease_s), locked_by=owner)
                )
                if getattr(result, "rowcount", 0) == 1:  # another notifier may have taken it in between
                    claimed.append(outbox_id)
            if not claimed:
                return []
            rows = session.execute(
                _outbox_query().where(OutboxRow.id.in_(claimed)).order_by(OutboxRow.id)
            ).all()
            return [_entry(row, camera) for row, camera in rows]

    def record_delivery(
        self,
        outbox_id: int,
        attempt: DeliveryAttempt,
        status: DeliveryStatus,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record one try and its consequence: delivered, failed for good, or pending until `next_attempt_at`."""
        with self._db.transaction() as session:
            row = session.get(OutboxRow, outbox_id)
            if row is None:
                return  # its incident was deleted meanwhile
            session.add(
                AttemptRow(
                    outbox_id=outbox_id,
                    at=attempt.at,
                    ok=attempt.ok,
                    status_code=attempt.status_code,
                    error=attempt.error,
                    duration_ms=attempt.duration_ms,
                )
            )
            row.attempts += 1
            row.locked_until = row.locked_by = None
            row.last_error = attempt.error
            if row.status != DeliveryStatus.PENDING.value:
                return  # expired while in flight: the record of the try is enough
            row.status = status.value
            if status is DeliveryStatus.DELIVERED:
                row.delivered_at = attempt.at
            elif status is DeliveryStatus.PENDING and next_attempt_at is not None:
                row.next_attempt_at = next_attempt_at


def _outbox_query() -> Any:
    return (
        select(OutboxRow, CameraRow.name)
        .join(IncidentRow, IncidentRow.id == OutboxRow.incident_id)
        .join(CameraRow, CameraRow.id == IncidentRow.camera_id)
    )


def _entry(row: OutboxRow, camera: str) -> OutboxEntry:
    return OutboxEntry(
        id=row.id,
        incident_id=row.incident_id,
        camera=camera,
        destination=row.destination,
        target=row.target,
        event=row.event,
        delivery_id=row.delivery_id,
        payload=row.payload,
        status=DeliveryStatus(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        expires_at=row.expires_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )
