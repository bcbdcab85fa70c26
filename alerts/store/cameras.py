"""Cameras' heartbeats: each worker replaces its cameras' status every few seconds; the dashboard reads them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fallwatch.alerts.records import CameraState, CameraStatus, utcnow
from fallwatch.alerts.store.database import Database
from fallwatch.alerts.store.leases import database_now
from fallwatch.alerts.store.tables import CameraLeaseRow, CameraStatusRow
from fallwatch.core.errors import FallWatchError


class CameraStatuses:
    def __init__(self, db: Database):
        self._db = db

    def report(
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
            camera=checked_name(camera),
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
                with self._db.transaction() as session:
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

    def all(self) -> list[CameraStatus]:
        """The latest report of every camera, by name, with the worker whose lease covers it now."""
        with self._db.transaction() as session:
            now = database_now(session)
            holders = {lease.camera: lease for lease in session.scalars(select(CameraLeaseRow))
                       if lease.worker is not None and lease.expires_at is not None and lease.expires_at > now}  # fmt: skip
            rows = session.scalars(select(CameraStatusRow).order_by(CameraStatusRow.camera))
            return [_camera_status(row, holders.get(row.camera)) for row in rows]


def checked_name(name: str, what: str = "camera name") -> str:
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


def _camera_status(row: CameraStatusRow, lease: CameraLeaseRow | None) -> CameraStatus:
    return CameraStatus(
        camera=row.camera,
        state=CameraState(row.state),
        fps=row.fps,
        dropped=row.dropped,
        reconnects=row.reconnects,
        frame_path=row.frame_path,
        detail=row.detail,
        updated_at=row.updated_at,
        worker=lease.worker if lease is not None else None,
        worker_since=lease.acquired_at if lease is not None else None,
    )
