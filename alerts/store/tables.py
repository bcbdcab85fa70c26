"""The store's tables as SQLAlchemy models; Alembic's revisions (alerts/migrations) create them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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


class DashboardSessionRow(Base):
    """A sign-in. The browser holds the token; only its keyed hash is kept. Until the browser takes its cookie,
    the session has a one-time grant instead (hashed too) that the cookie route trades for a token."""

    __tablename__ = "dashboard_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64), index=True)
    password_fingerprint: Mapped[str] = mapped_column(String(64))  # a new password ends the session
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    grant_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    grant_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SignInFailureRow(Base):
    """A wrong password for a user name; kept in the store so that a restart does not lift a lockout."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_name", "user_name", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class WorkerRow(Base):
    """A `fallwatch run` process that has registered with the store; its heartbeat says it is alive."""

    __tablename__ = "workers"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    max_cameras: Mapped[int] = mapped_column(Integer)
    metrics_port: Mapped[int | None] = mapped_column(Integer)


class CameraLeaseRow(Base):
    """Which worker analyses a camera, until when. `epoch` grows by one at every change of hands: a worker's
    writes carry the epoch it held, so a worker that lost the camera cannot write for it afterwards."""

    __tablename__ = "camera_leases"
    camera: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker: Mapped[str | None] = mapped_column(String(64), index=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def table_names() -> Sequence[str]:
    return sorted(Base.metadata.tables)
