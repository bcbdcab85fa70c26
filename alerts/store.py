"""The incident store: SQLAlchemy models behind a repository that hands out frozen records.

An engine event becomes, in ONE transaction: the incident row (created or updated), the event, its score
timeline, the audit trail of what changed, and one outbox row per receiver. So an incident is in the store before
anyone is told, and nobody is told of an incident that is not. Each write carries a uid: applying the same
write twice (a retry after the connection dropped mid-commit) changes nothing the second time.

SQLite (WAL, a file under the data directory) is the default; PostgreSQL is used by URL. The schema is created
and upgraded by Alembic when the store is opened.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, aliased, mapped_column, sessionmaker

from fallwatch.alerts.engine import ScoreSample
from fallwatch.alerts.messages import Routing, event_name, incident_message
from fallwatch.alerts.records import (
    CameraState,
    CameraStatus,
    DashboardUser,
    DeliveryAttempt,
    DeliveryStatus,
    EventRecord,
    Incident,
    IncidentChange,
    IncidentCounts,
    IncidentKind,
    IncidentQuery,
    OutboxEntry,
    Outcome,
    Status,
    WriteItem,
    utcnow,
)
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import Box, EventKind, Severity

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "fallwatch_schema_version"
ENGINE_USER = "engine"  # who the audit trail names for changes the engine made
_MIGRATION_LOCK = 0x46574C31  # any constant: serialises schema upgrades of workers sharing one PostgreSQL
_URL_HINT = "expected sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/dbname"


class StoreUnavailable(FallWatchError):
    """The database cannot be reached right now (down, restarting, locked); trying again later may work."""


# --- URLs -----------------------------------------------------------------------------------------------------------


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'fallwatch.db').resolve()}"


def resolve_url(*candidates: str | None, data_dir: Path) -> str:
    """The first URL given (a --db flag, then store.url), else SQLite in the data directory (created)."""
    for url in candidates:
        if url:
            return url
    data_dir.mkdir(parents=True, exist_ok=True)
    return default_url(data_dir)


def parse_url(raw: str) -> URL:
    """A checked SQLAlchemy URL, or FallWatchError naming what is wrong with it."""
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):
        raise FallWatchError(f"database URL {raw!r} is not a URL ({_URL_HINT})") from None
    backend = url.get_backend_name()
    shown = url.render_as_string(hide_password=True)
    if backend == "sqlite":
        if url.get_driver_name() != "pysqlite":
            raise FallWatchError(f"database URL {shown}: unsupported SQLite driver ({_URL_HINT})")
        if not url.database or url.database == ":memory:":
            raise FallWatchError(f"database URL {shown}: SQLite needs a file path ({_URL_HINT})")
        parent = Path(url.database).expanduser().resolve().parent
        if not parent.is_dir():
            raise FallWatchError(f"database URL {shown}: directory {parent} does not exist")
        return url
    if backend == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver FallWatch ships with
        if url.get_driver_name() != "psycopg":
            raise FallWatchError(f"database URL {shown}: use the psycopg driver ({_URL_HINT})")
        if url.password:
            raise FallWatchError(
                f"database URL {shown}: a password in the URL is refused; put it in PGPASSWORD or ~/.pgpass"
            )
        if not url.database:
            raise FallWatchError(f"database URL {shown}: no database name ({_URL_HINT})")
        return url
    raise FallWatchError(f"database URL {shown}: unsupported database {backend!r} ({_URL_HINT})")


def _first_line(exc: BaseException) -> str:
    origin = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(origin).splitlines() if line.strip()]
    return lines[0] if lines else type(origin).__name__


# --- models ---------------------------------------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on both databases (SQLite keeps naive UTC text, which sorts correctly)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("datetimes given to the store must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class CameraRow(Base):
    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status", "status"), Index("ix_incidents_camera", "camera_id", "id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id"))
    track_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    zone: Mapped[str | None] = mapped_column(String(64))
    opened_pts: Mapped[float] = mapped_column(Float)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    peak_score: Mapped[float] = mapped_column(Float)
    snapshot_path: Mapped[str | None] = mapped_column(String(512))
    clip_path: Mapped[str | None] = mapped_column(String(512))
    notes: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))
    messages: Mapped[int] = mapped_column(
        Integer, default=0
    )  # messages queued so far: orders them per incident


class EventRow(Base):
    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    pts: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    track_id: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    # The track's box at the event, source pixels; NULL for events stored before revision 0002.
    box_x1: Mapped[float | None] = mapped_column(Float)
    box_y1: Mapped[float | None] = mapped_column(Float)
    box_x2: Mapped[float | None] = mapped_column(Float)
    box_y2: Mapped[float | None] = mapped_column(Float)


class ChangeRow(Base):
    __tablename__ = "incident_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(32))
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class ScoreRow(Base):
    __tablename__ = "score_points"
    __table_args__ = (Index("ix_score_points_incident", "incident_id", "pts"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    pts: Mapped[float] = mapped_column(Float)
    normal: Mapped[float] = mapped_column(Float)
    falling: Mapped[float] = mapped_column(Float)
    lying: Mapped[float] = mapped_column(Float)


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_chain", "incident_id", "destination", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    destination: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(2000))
    event: Mapped[str] = mapped_column(String(32))
    delivery_id: Mapped[str] = mapped_column(String(32), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class AttemptRow(Base):
    __tablename__ = "delivery_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float)


class CameraStatusRow(Base):
    """One row per camera, replaced by each worker report (not a history: the dashboard shows the latest)."""

    __tablename__ = "camera_status"
    camera: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    fps: Mapped[float] = mapped_column(Float)
    dropped: Mapped[int] = mapped_column(Integer)
    reconnects: Mapped[int] = mapped_column(Integer)
    frame_path: Mapped[str | None] = mapped_column(String(512))
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DashboardUserRow(Base):
    __tablename__ = "dashboard_users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- opening --------------------------------------------------------------------------------------------------------


def _make_engine(url: URL, connect_timeout_s: float) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30.0})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (the dashboard) never block the writer
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # pre_ping: a server restarted under us leaves dead pooled connections; find them before using them.
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, round(connect_timeout_s))}
    )


# Alembic keeps its running context in module globals, so two threads of one process (the pipeline's writer and
# the notifier, say) must not migrate at once; processes are kept apart by the database itself.
_MIGRATING = threading.Lock()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic, script location inside this package)."""
    with _MIGRATING:
        _migrate(engine)


def _migrate(engine: Engine) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        config.attributes["version_table"] = VERSION_TABLE
        command.upgrade(config, "head")


def open_store(
    url: str, routing: Routing | None = None, connect_timeout_s: float = 5.0, *, upgrade: bool = True
) -> Store:
    """Open (and by default create or upgrade) the store at `url`; FallWatchError if it cannot be used."""
    parsed = parse_url(url)
    engine = _make_engine(parsed, connect_timeout_s)
    shown = parsed.render_as_string(hide_password=True)
    try:
        if upgrade:
            migrate(engine)
        else:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
    except (OperationalError, InterfaceError) as exc:
        engine.dispose()
        raise StoreUnavailable(f"database {shown}: cannot connect ({_first_line(exc)})") from None
    except DBAPIError as exc:
        engine.dispose()
        raise FallWatchError(f"database {shown}: {_first_line(exc)}") from None
    return Store(engine, shown, routing or Routing())


# --- the repository -------------------------------------------------------------------------------------------------


class Store:
    """Every read and write of incidents. Thread-safe (one short session per call)."""

    def __init__(self, engine: Engine, shown_url: str, routing: Routing):
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.url = shown_url
        self.routing = routing

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One transaction; a lost or refused connection becomes StoreUnavailable (callers may retry)."""
        try:
            with self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailable(f"database {self.url}: unavailable ({_first_line(exc)})") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreUnavailable(f"database {self.url}: connection lost ({_first_line(exc)})") from exc
            raise

    # --- engine events ------------------------------------------------------------------------------------------

    def apply(self, item: WriteItem) -> bool:
        """Store one engine event (incident, timeline, audit, outbox) atomically; False if already stored."""
        for attempt in range(2):
            try:
                with self._tx() as session:
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
        camera = self._camera(session, e.camera, item.at)
        row = session.scalar(select(IncidentRow).where(IncidentRow.key == e.incident_key))
        created = row is None
        if row is None:
            row = self._new_incident(session, camera, item)
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
        self._enqueue(session, row, e.camera, event_name(e.kind.value), item.at, e.pts)
        return True

    def _camera(self, session: Session, name: str, at: datetime) -> CameraRow:
        camera = session.scalar(select(CameraRow).where(CameraRow.name == name))
        if camera is None:
            camera = CameraRow(name=name, created_at=at)
            session.add(camera)
            session.flush()
        return camera

    def _new_incident(self, session: Session, camera: CameraRow, item: WriteItem) -> IncidentRow:
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
        peaks = [s.falling for s in item.samples] + ([e.score] if e.kind is EventKind.OPENED else [])
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
            change.set("outcome", None)  # down again after getting up: not over any more
            row.ended_at = None
            if row.status == Status.RESOLVED.value:
                change.set("status", Status.OPEN.value, "down again after it was resolved")
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

    def _enqueue(
        self, session: Session, row: IncidentRow, camera: str, event: str, at: datetime, pts: float | None
    ) -> None:
        """Queue one message per receiver, in this same transaction (the outbox pattern)."""
        if not self.routing.destinations:
            return
        row.messages += 1
        session.flush()
        payload = incident_message(_incident(row, camera), event, at, row.messages, self.routing, pts)
        now = utcnow()
        for destination in self.routing.destinations:
            session.add(
                OutboxRow(
                    incident_id=row.id,
                    destination=destination.name,
                    target=destination.target,
                    event=event,
                    delivery_id=uuid.uuid4().hex,
                    payload=payload,
                    status=DeliveryStatus.PENDING.value,
                    attempts=0,
                    created_at=now,
                    next_attempt_at=now,
                    expires_at=now + timedelta(seconds=self.routing.expire_after_s),
                )
            )

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
        with self._tx() as session:
            row, camera = self._row(session, incident_id)
            reason = refusal(row)
            if reason is not None:
                raise FallWatchError(f"incident {incident_id} {reason}")
            at = utcnow()
            _Changer(session, row, at, by).set("status", target(row).value, note)
            self._note(row, at, by, note)
            self._enqueue(session, row, camera, event_name(event), at, None)
            return _incident(row, camera)

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
        with self._tx() as session:
            return _incident(*self._row(session, incident_id))

    def get_by_key(self, key: str) -> Incident | None:
        with self._tx() as session:
            found = session.execute(
                select(IncidentRow, CameraRow.name)
                .join(CameraRow, CameraRow.id == IncidentRow.camera_id)
                .where(IncidentRow.key == key)
            ).first()
            return None if found is None else _incident(found[0], found[1])

    def incidents(
        self,
        status: Status | None = None,
        camera: str | None = None,
        active: bool | None = None,
        limit: int = 100,
    ) -> list[Incident]:
        """Newest first."""
        query = select(IncidentRow, CameraRow.name).join(CameraRow, CameraRow.id == IncidentRow.camera_id)
        if status is not None:
            query = query.where(IncidentRow.status == status.value)
        if camera is not None:
            query = query.where(CameraRow.name == camera)
        if active is not None:
            query = query.where(IncidentRow.outcome.is_(None) if active else IncidentRow.outcome.is_not(None))
        with self._tx() as session:
            rows = session.execute(query.order_by(IncidentRow.id.desc()).limit(limit)).all()
            return [_incident(row, name) for row, name in rows]

    def timeline(self, incident_id: int) -> list[ScoreSample]:
        with self._tx() as session:
            rows = session.scalars(
                select(ScoreRow)
                .where(ScoreRow.incident_id == incident_id)
                .order_by(ScoreRow.pts, ScoreRow.id)
            )
            return [ScoreSample(r.pts, r.normal, r.falling, r.lying) for r in rows]

    def changes(self, incident_id: int) -> list[IncidentChange]:
        with self._tx() as session:
            rows = session.scalars(
                select(ChangeRow).where(ChangeRow.incident_id == incident_id).order_by(ChangeRow.id)
            )
            return [IncidentChange(r.at, r.by, r.field, r.old, r.new, r.note) for r in rows]

    def events(self, incident_id: int) -> list[EventRecord]:
        with self._tx() as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.incident_id == incident_id).order_by(EventRow.id)
            )
            return [
                EventRecord(
                    r.id, EventKind(r.kind), r.pts, r.at, r.track_id, Severity(r.severity), r.score, _box(r)
                )
                for r in rows
            ]

    # --- the dashboard's reads ----------------------------------------------------------------------------------

    def find_incidents(self, query: IncidentQuery) -> list[Incident]:
        """Incidents matching `query`, newest first."""
        statement = _filtered(select(IncidentRow, CameraRow.name), query)
        with self._tx() as session:
            rows = session.execute(statement.order_by(IncidentRow.id.desc()).limit(query.limit)).all()
            return [_incident(row, name) for row, name in rows]

    def count_incidents(self, query: IncidentQuery) -> IncidentCounts:
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
        with self._tx() as session:
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
        with self._tx() as session:
            named = set(session.scalars(select(CameraRow.name)))
            named |= set(session.scalars(select(CameraStatusRow.camera)))
        return sorted(named)

    def latest_incidents(self) -> dict[str, Incident]:
        """Each camera's newest incident, by camera name."""
        newest = select(func.max(IncidentRow.id)).group_by(IncidentRow.camera_id).scalar_subquery()
        statement = (
            select(IncidentRow, CameraRow.name)
            .join(CameraRow, CameraRow.id == IncidentRow.camera_id)
            .where(IncidentRow.id.in_(newest))
        )
        with self._tx() as session:
            return {name: _incident(row, name) for row, name in session.execute(statement).all()}

    # --- people's actions from the dashboard ----------------------------------------------------------------------

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
        with self._tx() as session:
            row, camera = self._row(session, incident_id)
            at = utcnow()
            session.add(ChangeRow(incident_id=row.id, at=at, by=by, field="note", new=said, note=said))
            self._note(row, at, by, said)
            return _incident(row, camera)

    # --- camera status, reported by workers -----------------------------------------------------------------------

    def report_camera_status(
        self,
        camera: str,
        state: CameraState,
        fps: float,
        dropped: int,
        reconnects: int,
        frame_path: str | None = None,
        detail: str | None = None,
        at: datetime | None = None,
    ) -> CameraStatus:
        """Replace `camera`'s status with this report (a worker calls it every few seconds per camera)."""
        report = CameraStatus(
            camera=_camera_name(camera),
            state=CameraState(state),
            fps=_non_negative(fps, "fps"),
            dropped=int(_non_negative(dropped, "dropped")),
            reconnects=int(_non_negative(reconnects, "reconnects")),
            frame_path=_relative_media_path(frame_path),
            detail=" ".join(detail.split())[:500] if detail else None,
            updated_at=at or utcnow(),
        )
        values = {
            "state": report.state.value,
            "fps": report.fps,
            "dropped": report.dropped,
            "reconnects": report.reconnects,
            "frame_path": report.frame_path,
            "detail": report.detail,
            "updated_at": report.updated_at,
        }
        for attempt in range(2):
            try:
                with self._tx() as session:
                    row = session.get(CameraStatusRow, report.camera)
                    if row is None:
                        session.add(CameraStatusRow(camera=report.camera, **values))
                    else:
                        for name, value in values.items():
                            setattr(row, name, value)
                return report
            except IntegrityError:
                if attempt == 1:  # another worker inserted the same camera in between: update it instead
                    raise
        return report  # unreachable; keeps type checkers content

    def camera_statuses(self) -> list[CameraStatus]:
        """The latest report of every camera, by name."""
        with self._tx() as session:
            rows = session.scalars(select(CameraStatusRow).order_by(CameraStatusRow.camera))
            return [_camera_status(row) for row in rows]

    # --- dashboard users (password hashes only) -------------------------------------------------------------------

    def set_user(self, name: str, password_hash: str) -> DashboardUser:
        """Add a dashboard user, or replace an existing user's password hash."""
        name = _camera_name(name, what="user name")
        if not password_hash.startswith("$"):
            raise ValueError("set_user takes a password hash (PHC string), never a password")
        at = utcnow()
        with self._tx() as session:
            row = session.get(DashboardUserRow, name)
            if row is None:
                row = DashboardUserRow(name=name, password_hash=password_hash, created_at=at, updated_at=at)
                session.add(row)
            else:
                row.password_hash, row.updated_at = password_hash, at
            return DashboardUser(row.name, row.password_hash, row.created_at, row.updated_at)

    def user(self, name: str) -> DashboardUser | None:
        with self._tx() as session:
            row = session.get(DashboardUserRow, name)
            return (
                None
                if row is None
                else DashboardUser(row.name, row.password_hash, row.created_at, row.updated_at)
            )

    def users(self) -> list[DashboardUser]:
        with self._tx() as session:
            rows = session.scalars(select(DashboardUserRow).order_by(DashboardUserRow.name))
            return [DashboardUser(r.name, r.password_hash, r.created_at, r.updated_at) for r in rows]

    def remove_user(self, name: str) -> bool:
        """Remove a dashboard user; False if there was none of that name."""
        with self._tx() as session:
            row = session.get(DashboardUserRow, name)
            if row is None:
                return False
            session.delete(row)
            return True

    # --- the outbox ---------------------------------------------------------------------------------------------

    def outbox(
        self, incident_id: int | None = None, status: DeliveryStatus | None = None
    ) -> list[OutboxEntry]:
        query = _outbox_query()
        if incident_id is not None:
            query = query.where(OutboxRow.incident_id == incident_id)
        if status is not None:
            query = query.where(OutboxRow.status == status.value)
        with self._tx() as session:
            return [
                _entry(row, camera) for row, camera in session.execute(query.order_by(OutboxRow.id)).all()
            ]

    def attempts(self, outbox_id: int) -> list[DeliveryAttempt]:
        with self._tx() as session:
            rows = session.scalars(
                select(AttemptRow).where(AttemptRow.outbox_id == outbox_id).order_by(AttemptRow.id)
            )
            return [DeliveryAttempt(r.at, r.ok, r.status_code, r.error, r.duration_ms) for r in rows]

    def expire_due(self, now: datetime) -> int:
        """Give up messages past their expiry (recorded as expired), unblocking the ones queued after them."""
        with self._tx() as session:
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
        with self._tx() as session:
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
        with self._tx() as session:
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


# --- helpers --------------------------------------------------------------------------------------------------------


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


def _who(by: str) -> str:
    by = " ".join(by.split())
    if not by or len(by) > 64:
        raise FallWatchError(f"--by must name who is acting (1 to 64 characters), got {by!r}")
    return by


def _last_change(row: IncidentRow) -> str:
    return f"by {row.updated_by} at {_short(row.updated_at)}"


def _short(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _incident(row: IncidentRow, camera: str) -> Incident:
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
    return statement


def _camera_name(name: str, what: str = "camera name") -> str:
    if not 1 <= len(name) <= 64 or any(c.isspace() or not c.isprintable() for c in name):
        raise FallWatchError(f"{what} must be 1 to 64 printable characters without spaces, got {name!r}")
    return name


def _non_negative(value: float, name: str) -> float:
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def _relative_media_path(path: str | None) -> str | None:
    """A media path as stored: relative to the media root, '/'-separated, never climbing out of it."""
    if path is None:
        return None
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or "\x00" in path or ".." in parts or "" in parts:
        raise ValueError(f"frame_path must be relative to the media root (a/b.jpg), got {path!r}")
    return path


def _camera_status(row: CameraStatusRow) -> CameraStatus:
    return CameraStatus(
        camera=row.camera,
        state=CameraState(row.state),
        fps=row.fps,
        dropped=row.dropped,
        reconnects=row.reconnects,
        frame_path=row.frame_path,
        detail=row.detail,
        updated_at=row.updated_at,
    )


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


def table_names() -> Sequence[str]:
    return sorted(Base.metadata.tables)
