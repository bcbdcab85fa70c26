"""Workers and camera leases: which `fallwatch run` process analyses which camera, for how long.

A lease row per camera holds its worker, an expiry and an epoch. Taking a camera is a compare-and-set on the epoch
(`UPDATE ... WHERE epoch = seen`), so two workers racing for one camera cannot both win, on PostgreSQL or SQLite;
on PostgreSQL the candidates are also read `FOR UPDATE SKIP LOCKED`, so workers claiming at the same moment pick
different cameras instead of queueing on the same rows. Expiry is measured on the database's clock: the workers'
clocks never decide who holds a camera.

Every incident write carries the epoch its worker held; a write whose epoch was superseded by a takeover before the
event happened is refused (`LeaseFenced`): a worker that was paused, cut off or slow cannot write for a camera
another worker now analyses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import CursorResult, or_, select, text, update
from sqlalchemy.orm import Session

from fallwatch.alerts.records import CameraLease, WorkerRecord, utcnow
from fallwatch.alerts.store.database import Database
from fallwatch.alerts.store.tables import CameraLeaseRow, WorkerRow
from fallwatch.core.errors import FallWatchError


class LeaseFenced(FallWatchError):
    """A write for a camera whose lease passed to another worker before the written event happened."""


class WorkerNameTaken(FallWatchError):
    """Another live worker registered under the same name."""


def database_now(session: Session) -> datetime:
    """The database's clock (PostgreSQL), or this machine's (SQLite: one machine by nature)."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(text("SELECT clock_timestamp()"))
        if isinstance(value, datetime):
            return value
    return utcnow()


class Leases:
    def __init__(self, db: Database):
        self._db = db

    # --- workers -------------------------------------------------------------------------------------------------

    def register(self, name: str, host: str, pid: int, max_cameras: int, metrics_port: int | None,
                 lease_s: float) -> None:  # fmt: skip
        """Record this worker as started; refused while another live process holds the name."""
        with self._db.transaction() as session:
            now = database_now(session)
            row = session.get(WorkerRow, name, with_for_update=True)
            if row is not None and (row.host, row.pid) != (host, pid) and _live(row, now, lease_s):
                raise WorkerNameTaken(
                    f"worker name {name!r} is in use by {row.host} pid {row.pid} (heard from "
                    f"{(now - row.heartbeat_at).total_seconds():.0f} s ago); give each worker its own workers.name"
                )
            if row is None:
                row = WorkerRow(name=name)
                session.add(row)
            row.host, row.pid, row.max_cameras, row.metrics_port = host, pid, max_cameras, metrics_port
            row.started_at = row.heartbeat_at = now
            row.stopped_at = None

    def heartbeat(self, name: str) -> None:
        with self._db.transaction() as session:
            session.execute(update(WorkerRow).where(WorkerRow.name == name)
                            .values(heartbeat_at=database_now(session), stopped_at=None))  # fmt: skip

    def stop(self, name: str) -> None:
        """The worker has ended: its leases are free at once (not after they run out)."""
        with self._db.transaction() as session:
            now = database_now(session)
            session.execute(update(WorkerRow).where(WorkerRow.name == name).values(stopped_at=now))
            session.execute(update(CameraLeaseRow).where(CameraLeaseRow.worker == name)
                            .values(worker=None, expires_at=now))  # fmt: skip

    def workers(self) -> list[WorkerRecord]:
        """Every registered worker, with the cameras it holds now, newest heartbeat first."""
        with self._db.transaction() as session:
            now = database_now(session)
            held: dict[str, list[str]] = {}
            for lease in session.scalars(select(CameraLeaseRow).order_by(CameraLeaseRow.camera)):
                if lease.worker is not None and lease.expires_at is not None and lease.expires_at > now:
                    held.setdefault(lease.worker, []).append(lease.camera)
            rows = session.scalars(select(WorkerRow).order_by(WorkerRow.heartbeat_at.desc(), WorkerRow.name))
            return [_worker(row, tuple(held.get(row.name, ()))) for row in rows]

    def live_workers(self, lease_s: float) -> list[WorkerRecord]:
        """The workers heard from within one lease and not stopped, by name (without their cameras)."""
        with self._db.transaction() as session:
            now = database_now(session)
            rows = session.scalars(
                select(WorkerRow).where(WorkerRow.stopped_at.is_(None)).order_by(WorkerRow.name)
            )
            return [_worker(row, ()) for row in rows if _live(row, now, lease_s)]

    # --- leases --------------------------------------------------------------------------------------------------

    def leases(self, cameras: Iterable[str] | None = None) -> list[CameraLease]:
        with self._db.transaction() as session:
            query = select(CameraLeaseRow).order_by(CameraLeaseRow.camera)
            if cameras is not None:
                query = query.where(CameraLeaseRow.camera.in_(list(cameras)))
            return [_lease(row) for row in session.scalars(query)]

    def ensure(self, cameras: Iterable[str]) -> None:
        """A lease row (free) for every camera that has none yet."""
        wanted = sorted(set(cameras))
        with self._db.transaction() as session:
            known = set(
                session.scalars(select(CameraLeaseRow.camera).where(CameraLeaseRow.camera.in_(wanted)))
            )
            session.add_all(CameraLeaseRow(camera=name, epoch=0) for name in wanted if name not in known)

    def claim(self, worker: str, cameras: Sequence[str], limit: int, lease_s: float) -> dict[str, int]:
        """Take up to `limit` of `cameras` that nobody holds (free or run out); returns camera -> new epoch."""
        if limit <= 0 or not cameras:
            return {}
        won: dict[str, int] = {}
        with self._db.transaction() as session:
            now = database_now(session)
            free = or_(CameraLeaseRow.worker.is_(None), CameraLeaseRow.expires_at.is_(None),
                       CameraLeaseRow.expires_at <= now)  # fmt: skip
            query = (
                select(CameraLeaseRow.camera, CameraLeaseRow.epoch)
                .where(CameraLeaseRow.camera.in_(list(cameras)), free)
                .order_by(CameraLeaseRow.camera)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            for camera, epoch in session.execute(query).all():
                taken = session.execute(
                    update(CameraLeaseRow)
                    .where(CameraLeaseRow.camera == camera, CameraLeaseRow.epoch == epoch)
                    .values(
                        worker=worker,
                        epoch=epoch + 1,
                        acquired_at=now,
                        expires_at=now + timedelta(seconds=lease_s),
                    )
                )
                if _changed(taken):
                    won[camera] = epoch + 1
        return won

    def renew(self, worker: str, held: Mapping[str, int], lease_s: float) -> dict[str, int]:
        """Extend the leases this worker still holds at the epochs it took them; the ones missing were lost."""
        kept: dict[str, int] = {}
        with self._db.transaction() as session:
            until = database_now(session) + timedelta(seconds=lease_s)
            for camera, epoch in held.items():
                renewed = session.execute(
                    update(CameraLeaseRow)
                    .where(
                        CameraLeaseRow.camera == camera,
                        CameraLeaseRow.worker == worker,
                        CameraLeaseRow.epoch == epoch,
                    )
                    .values(expires_at=until)
                )
                if _changed(renewed):
                    kept[camera] = epoch
        return kept

    def release(self, worker: str, cameras: Mapping[str, int]) -> None:
        """Hand cameras back at once (a drained stop, or passing one on to a less busy worker)."""
        with self._db.transaction() as session:
            now = database_now(session)
            for camera, epoch in cameras.items():
                session.execute(
                    update(CameraLeaseRow)
                    .where(
                        CameraLeaseRow.camera == camera,
                        CameraLeaseRow.worker == worker,
                        CameraLeaseRow.epoch == epoch,
                    )
                    .values(worker=None, expires_at=now)
                )


def check_fence(session: Session, camera: str, epoch: int | None, at: datetime) -> None:
    """Refuse a write made under a lease that another worker's takeover had superseded by `at`.

    Events from before the takeover are still written: a worker cut off from the database keeps analysing and
    spools what it sees, and the camera was its own until the takeover.
    """
    if epoch is None:
        return
    lease = session.scalar(select(CameraLeaseRow).where(CameraLeaseRow.camera == camera).with_for_update())
    if lease is None or lease.epoch <= epoch or lease.acquired_at is None or at < lease.acquired_at:
        return
    raise LeaseFenced(
        f"camera {camera}: event at {at.isoformat()} made under lease epoch {epoch}, after worker "
        f"{lease.worker or '(none)'} took the camera over at {lease.acquired_at.isoformat()} (epoch {lease.epoch})"
    )


def _changed(result: object) -> bool:
    return isinstance(result, CursorResult) and result.rowcount == 1


def _live(row: WorkerRow, now: datetime, lease_s: float) -> bool:
    return row.stopped_at is None and (now - row.heartbeat_at).total_seconds() < lease_s


def _lease(row: CameraLeaseRow) -> CameraLease:
    return CameraLease(row.camera, row.worker, row.epoch, row.acquired_at, row.expires_at)


def _worker(row: WorkerRow, cameras: tuple[str, ...]) -> WorkerRecord:
    return WorkerRecord(row.name, row.host, row.pid, row.started_at, row.heartbeat_at, row.stopped_at,
                        row.max_cameras, row.metrics_port, cameras)  # fmt: skip
