"""Incidents: the engine's events written atomically, people's reviews, and every read of them.

An engine event becomes, in ONE transaction: the incident row (created or updated), the event, its score
timeline, the audit trail of what changed, and one outbox row per receiver. So an incident is in the store before
anyone is told, and nobody is told of an incident that is not. Each write carries a uid: applying the same
write twice (a retry after the connection dropped mid-commit) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fallwatch.alerts.engine import ScoreSample
from fallwatch.alerts.records import (
    EventRecord,
    Incident,
    IncidentChange,
    IncidentCounts,
    IncidentKind,
    IncidentQuery,
    InProgress,
    Outcome,
    Status,
    WriteItem,
    event_name,
    utcnow,
)
from fallwatch.alerts.store.database import Database
from fallwatch.alerts.store.leases import check_fence
from fallwatch.alerts.store.outbox import Outbox
from fallwatch.alerts.store.tables import (
    CameraRow,
    CameraStatusRow,
    ChangeRow,
    EventRow,
    IncidentRow,
    ScoreRow,
)
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import Box, EventKind, Severity

ENGINE_USER = "engine"  # who the audit trail names for changes the engine made


class Incidents:
    """Every read and write of incidents. Thread-safe (one short session per call)."""

    def __init__(self, db: Database, outbox: Outbox):
        self._db = db
        self._outbox = outbox

    # --- engine events ------------------------------------------------------------------------------------------

    def apply(self, item: WriteItem) -> bool:
        """Store one engine event (incident, timeline, audit, outbox) atomically; False if already stored."""
        for attempt in range(2):
            try:
                with self._db.transaction() as session:
                    return self._apply(session, item)
            except IntegrityError:
                # Another worker created the same camera or incident between our read and our insert; the second
                # try sees it. A uid stored by someone else makes the second try a no-op.
                if attempt == 1:
                    raise
        return False  # unreachable; keeps type checkers content

    def _apply(self, session: Session, item: WriteItem) -> bool:
        if session.scalar(select(EventRow.id).where(EventRow.uid == item.uid)) is not None:
            return False
        e = item.event
        check_fence(session, e.camera, item.lease_epoch, item.at)
        camera = self._camera(session, e.camera, item.at)
        row = session.scalar(select(IncidentRow).where(IncidentRow.key == e.incident_key))
        created = row is None
        if row is None:
            row = self._newincident_record(session, camera, item)
        self._apply_event(session, row, item, created)
        session.add(
            EventRow(
                incident_id=row.id,
                uid=item.uid,
                kind=e.kind.value,
                pts=e.pts,
                at=item.at,
                track_id=e.track_id,
                severity=e.severity.value,
                score=e.score,
                **_box_columns(item.box),
            )
        )
        session.add_all(
            ScoreRow(incident_id=row.id, pts=s.pts, normal=s.normal, falling=s.falling, lying=s.lying)
            for s in item.samples
        )
        self._tell(session, row, e.camera, event_name(e.kind.value), item.at, e.pts)
        return True

    def _tell(
        self, session: Session, row: IncidentRow, camera: str, event: str, at: datetime, pts: float | None
    ) -> None:
        """Queue the event's messages; the incident's message count orders them for receivers."""
        session.flush()  # a new incident gets its id
        sequence = row.messages + 1
        if self._outbox.enqueue(session, incident_record(row, camera), event, at, sequence, pts):
            row.messages = sequence

    def _camera(self, session: Session, name: str, at: datetime) -> CameraRow:
        camera = session.scalar(select(CameraRow).where(CameraRow.name == name))
        if camera is None:
            camera = CameraRow(name=name, created_at=at)
            session.add(camera)
            session.flush()
        return camera

    def _newincident_record(self, session: Session, camera: CameraRow, item: WriteItem) -> IncidentRow:
        e = item.event
        critical = e.severity is Severity.CRITICAL
        row = IncidentRow(
            key=e.incident_key,
            camera_id=camera.id,
            track_id=e.track_id,
            kind=(IncidentKind.COLLAPSE if critical else IncidentKind.FALL).value,
            severity=e.severity.value,
            status=Status.OPEN.value,
            zone=item.zone,
            opened_pts=e.pts,
            opened_at=item.at,
            score=e.score,
            peak_score=0.0,
            notes="",
            updated_at=item.at,
            updated_by=ENGINE_USER,
            messages=0,
        )
        session.add(row)
        session.flush()
        session.add(
            ChangeRow(incident_id=row.id, at=item.at, by=ENGINE_USER, field="status", new=Status.OPEN.value)
        )
        return row

    def _apply_event(self, session: Session, row: IncidentRow, item: WriteItem, created: bool) -> None:
        e = item.event
        change = _Changer(session, row, item.at, ENGINE_USER)
        row.track_id = e.track_id  # the engine may have handed the incident to a successor track
        row.score = e.score
        falls = (EventKind.OPENED, EventKind.FELL_AGAIN)
        peaks = [s.falling for s in item.samples] + ([e.score] if e.kind in falls else [])
        row.peak_score = max([row.peak_score, *peaks])
        if row.zone is None:
            row.zone = item.zone
        if item.media is not None:
            row.snapshot_path = row.snapshot_path or item.media.snapshot
            row.clip_path = row.clip_path or item.media.clip
        if e.kind is EventKind.ESCALATED:
            change.set("kind", IncidentKind.COLLAPSE.value)
            change.set("severity", Severity.CRITICAL.value)
            row.escalated_at = row.escalated_at or item.at
            _reopen(change, row, "down again after it was resolved")
        elif e.kind is EventKind.FELL_AGAIN:
            _reopen(change, row, "fell again after it was resolved")
        elif e.kind in (EventKind.RECOVERED, EventKind.CLOSED):
            outcome = Outcome.RECOVERED if e.kind is EventKind.RECOVERED else Outcome.CLOSED
            if row.outcome is None or outcome is Outcome.RECOVERED:
                change.set("outcome", outcome.value)
                row.ended_at = item.at
            if row.status == Status.ACKNOWLEDGED.value:
                change.set("status", Status.RESOLVED.value, f"{outcome.value} after it was acknowledged")
        elif e.kind is EventKind.OPENED and not created:
            pass  # a second OPENED of one key only refreshes scores; the incident already exists
        row.updated_at, row.updated_by = item.at, ENGINE_USER

    # --- people's actions ---------------------------------------------------------------------------------------

    def acknowledge(self, incident_id: int, by: str, note: str | None = None) -> Incident:
        """Someone has taken the incident; if it is already over, it is resolved at once."""

        def refusal(row: IncidentRow) -> str | None:
            if row.status == Status.FALSE_ALARM.value:
                return "is marked a false alarm; it cannot be acknowledged"
            if row.status in (Status.ACKNOWLEDGED.value, Status.RESOLVED.value):
                return f"is already {row.status} ({_last_change(row)})"
            return None

        def target(row: IncidentRow) -> Status:
            return Status.RESOLVED if row.outcome is not None else Status.ACKNOWLEDGED

        return self._transition(incident_id, by, note, "acknowledged", target, refusal)

    def mark_false_alarm(self, incident_id: int, by: str, note: str | None = None) -> Incident:
        def refusal(row: IncidentRow) -> str | None:
            if row.status == Status.FALSE_ALARM.value:
                return f"is already a false alarm ({_last_change(row)})"
            return None

        return self._transition(incident_id, by, note, "false_alarm", lambda _: Status.FALSE_ALARM, refusal)

    def resolve(self, incident_id: int, by: str, note: str | None = None) -> Incident:
        """Someone has dealt with the incident: the person is safe, whatever the engine still sees."""

        def refusal(row: IncidentRow) -> str | None:
            if row.status == Status.FALSE_ALARM.value:
                return "is marked a false alarm; it cannot be resolved"
            if row.status == Status.RESOLVED.value:
                return f"is already resolved ({_last_change(row)})"
            return None

        return self._transition(incident_id, by, note, "resolved", lambda _: Status.RESOLVED, refusal)

    def add_note(self, incident_id: int, by: str, note: str) -> Incident:
        """Keep a note with the incident; the audit trail records who wrote it and when."""
        by = _who(by)
        said = " ".join(note.split())
        if not said:
            raise FallWatchError("a note must say something (it was empty)")
        with self._db.transaction() as session:
            row, camera = self._row(session, incident_id)
            at = utcnow()
            session.add(ChangeRow(incident_id=row.id, at=at, by=by, field="note", new=said, note=said))
            self._note(row, at, by, said)
            return incident_record(row, camera)

    def _transition(
        self,
        incident_id: int,
        by: str,
        note: str | None,
        event: str,
        target: Callable[[IncidentRow], Status],
        refusal: Callable[[IncidentRow], str | None],
    ) -> Incident:
        """One operator action on an incident: refused with the reason `refusal` gives, or the status set to
        `target`, the note kept, and `event` queued for notification, in one transaction."""
        by = _who(by)
        with self._db.transaction() as session:
            row, camera = self._row(session, incident_id)
            reason = refusal(row)
            if reason is not None:
                raise FallWatchError(f"incident {incident_id} {reason}")
            at = utcnow()
            _Changer(session, row, at, by).set("status", target(row).value, note)
            self._note(row, at, by, note)
            self._tell(session, row, camera, event_name(event), at, None)
            return incident_record(row, camera)

    @staticmethod
    def _note(row: IncidentRow, at: datetime, by: str, note: str | None) -> None:
        row.updated_at, row.updated_by = at, by
        if note and note.strip():
            line = f"{_short(at)} {by}: {' '.join(note.split())}"
            row.notes = f"{row.notes}\n{line}" if row.notes else line

    # --- reads --------------------------------------------------------------------------------------------------

    def _row(self, session: Session, incident_id: int) -> tuple[IncidentRow, str]:
        found = session.execute(
            select(IncidentRow, CameraRow.name)
            .join(CameraRow, CameraRow.id == IncidentRow.camera_id)
            .where(IncidentRow.id == incident_id)
        ).first()
        if found is None:
            raise FallWatchError(f"incident {incident_id} not found (see `fallwatch incidents list`)")
        return found[0], found[1]

    def get(self, incident_id: int) -> Incident:
        with self._db.transaction() as session:
            return incident_record(*self._row(session, incident_id))

    def by_key(self, key: str) -> Incident | None:
        with self._db.transaction() as session:
            found = session.execute(
                select(IncidentRow, CameraRow.name)
                .join(CameraRow, CameraRow.id == IncidentRow.camera_id)
                .where(IncidentRow.key == key)
            ).first()
            return None if found is None else incident_record(found[0], found[1])

    def query(self, query: IncidentQuery | None = None) -> list[Incident]:
        """Incidents matching `query` (by default the newest 200 of all), newest first."""
        query = query or IncidentQuery()
        statement = _filtered(select(IncidentRow, CameraRow.name), query)
        with self._db.transaction() as session:
            rows = session.execute(statement.order_by(IncidentRow.id.desc()).limit(query.limit)).all()
            return [incident_record(row, name) for row, name in rows]

    def count(self, query: IncidentQuery) -> IncidentCounts:
        """How many incidents match `query` (all of them, not only the first `limit`), by status."""
        columns = select(
            IncidentRow.status,
            IncidentRow.severity,
            IncidentRow.outcome.is_(None).label("active"),
            func.count(IncidentRow.id),
        )
        statement = _filtered(columns, query).group_by(
            IncidentRow.status, IncidentRow.severity, IncidentRow.outcome.is_(None)
        )
        counts: dict[str, int] = {}
        with self._db.transaction() as session:
            for status, severity, active, number in session.execute(statement).all():
                counts["total"] = counts.get("total", 0) + number
                counts[status] = counts.get(status, 0) + number
                if active:
                    counts["active"] = counts.get("active", 0) + number
                if status == Status.OPEN.value and severity == Severity.CRITICAL.value:
                    counts["critical_open"] = counts.get("critical_open", 0) + number
        return IncidentCounts(**counts)

    def camera_names(self) -> list[str]:
        """Every camera the store has heard of: from incidents or from worker reports, sorted."""
        with self._db.transaction() as session:
            named = set(session.scalars(select(CameraRow.name)))
            named |= set(session.scalars(select(CameraStatusRow.camera)))
        return sorted(named)

    def latest_by_camera(self) -> dict[str, Incident]:
        """Each camera's newest incident, by camera name."""
        newest = select(func.max(IncidentRow.id)).group_by(IncidentRow.camera_id).scalar_subquery()
        statement = (
            select(IncidentRow, CameraRow.name)
            .join(CameraRow, CameraRow.id == IncidentRow.camera_id)
            .where(IncidentRow.id.in_(newest))
        )
        with self._db.transaction() as session:
            return {name: incident_record(row, name) for row, name in session.execute(statement).all()}

    def in_progress(self, camera: str) -> list[InProgress]:
        """The camera's incidents that nothing has ended yet (no outcome), oldest first."""
        statement = (
            select(IncidentRow)
            .join(CameraRow, CameraRow.id == IncidentRow.camera_id)
            .where(CameraRow.name == camera, IncidentRow.outcome.is_(None))
            .order_by(IncidentRow.id)
        )
        with self._db.transaction() as session:
            left = []
            for row in session.scalars(statement).all():
                last = session.scalars(
                    select(EventRow)
                    .where(EventRow.incident_id == row.id)
                    .order_by(EventRow.id.desc())
                    .limit(1)
                ).one()  # every incident is made by its first event
                left.append(
                    InProgress(row.key, row.track_id, row.zone, Severity(row.severity), _box(last), last.at)
                )
            return left

    def timeline(self, incident_id: int) -> list[ScoreSample]:
        with self._db.transaction() as session:
            rows = session.scalars(
                select(ScoreRow)
                .where(ScoreRow.incident_id == incident_id)
                .order_by(ScoreRow.pts, ScoreRow.id)
            )
            return [ScoreSample(r.pts, r.normal, r.falling, r.lying) for r in rows]

    def changes(self, incident_id: int) -> list[IncidentChange]:
        with self._db.transaction() as session:
            rows = session.scalars(
                select(ChangeRow).where(ChangeRow.incident_id == incident_id).order_by(ChangeRow.id)
            )
            return [IncidentChange(r.at, r.by, r.field, r.old, r.new, r.note) for r in rows]

    def events(self, incident_id: int) -> list[EventRecord]:
        with self._db.transaction() as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.incident_id == incident_id).order_by(EventRow.id)
            )
            return [
                EventRecord(
                    r.id, EventKind(r.kind), r.pts, r.at, r.track_id, Severity(r.severity), r.score, _box(r)
                )
                for r in rows
            ]


class _Changer:
    """Sets fields of an incident and writes the audit trail of each real change."""

    def __init__(self, session: Session, row: IncidentRow, at: datetime, by: str):
        self._session, self._row, self._at, self._by = session, row, at, by

    def set(self, field: str, value: str | None, note: str | None = None) -> None:
        old = getattr(self._row, field)
        if old == value:
            return
        setattr(self._row, field, value)
        self._session.add(
            ChangeRow(
                incident_id=self._row.id, at=self._at, by=self._by, field=field, old=old, new=value, note=note
            )
        )


def _reopen(change: _Changer, row: IncidentRow, why: str) -> None:
    """The person is down again after getting up: the incident is not over, and a resolved one needs review."""
    change.set("outcome", None)
    row.ended_at = None
    if row.status == Status.RESOLVED.value:
        change.set("status", Status.OPEN.value, why)


def _who(by: str) -> str:
    by = " ".join(by.split())
    if not by or len(by) > 64:
        raise FallWatchError(f"--by must name who is acting (1 to 64 characters), got {by!r}")
    return by


def _last_change(row: IncidentRow) -> str:
    return f"by {row.updated_by} at {_short(row.updated_at)}"


def _short(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def incident_record(row: IncidentRow, camera: str) -> Incident:
    return Incident(
        id=row.id,
        key=row.key,
        camera=camera,
        track_id=row.track_id,
        kind=IncidentKind(row.kind),
        severity=Severity(row.severity),
        status=Status(row.status),
        zone=row.zone,
        opened_pts=row.opened_pts,
        opened_at=row.opened_at,
        escalated_at=row.escalated_at,
        ended_at=row.ended_at,
        outcome=None if row.outcome is None else Outcome(row.outcome),
        score=row.score,
        peak_score=row.peak_score,
        snapshot_path=row.snapshot_path,
        clip_path=row.clip_path,
        notes=row.notes,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _box_columns(box: Box | None) -> dict[str, float | None]:
    x1, y1, x2, y2 = box if box is not None else (None, None, None, None)
    return {"box_x1": x1, "box_y1": y1, "box_x2": x2, "box_y2": y2}


def _box(row: EventRow) -> Box | None:
    if row.box_x1 is None or row.box_y1 is None or row.box_x2 is None or row.box_y2 is None:
        return None
    return (row.box_x1, row.box_y1, row.box_x2, row.box_y2)


def _filtered(statement: Any, query: IncidentQuery) -> Any:
    """`statement` (over incidents) joined to cameras and narrowed to what `query` asks for."""
    statement = statement.join(CameraRow, CameraRow.id == IncidentRow.camera_id)
    if query.cameras:
        statement = statement.where(CameraRow.name.in_(query.cameras))
    if query.kinds:
        statement = statement.where(IncidentRow.kind.in_([k.value for k in query.kinds]))
    if query.severities:
        statement = statement.where(IncidentRow.severity.in_([s.value for s in query.severities]))
    if query.statuses:
        statement = statement.where(IncidentRow.status.in_([s.value for s in query.statuses]))
    if query.since is not None:
        statement = statement.where(IncidentRow.opened_at >= query.since)
    if query.until is not None:
        statement = statement.where(IncidentRow.opened_at < query.until)
    if query.active is not None:
        outcome = IncidentRow.outcome
        statement = statement.where(outcome.is_(None) if query.active else outcome.is_not(None))
    return statement
