"""Dashboard users, kept as password hashes (never passwords)."""

from __future__ import annotations

from sqlalchemy import select

from fallwatch.alerts.records import DashboardUser, utcnow
from fallwatch.alerts.store.cameras import checked_name
from fallwatch.alerts.store.database import Database
from fallwatch.alerts.store.tables import DashboardUserRow


class DashboardUsers:
    def __init__(self, db: Database):
        self._db = db

    def set(self, name: str, password_hash: str) -> DashboardUser:
        """Add a dashboard user, or replace an existing user's password hash."""
        name = checked_name(name, what="user name")
        if not password_hash.startswith("$"):
            raise ValueError("users.set takes a password hash (PHC string), never a password")
        at = utcnow()
        with self._db.transaction() as session:
            row = session.get(DashboardUserRow, name)
            if row is None:
                row = DashboardUserRow(name=name, password_hash=password_hash, created_at=at, updated_at=at)
                session.add(row)
            else:
                row.password_hash, row.updated_at = password_hash, at
            return DashboardUser(row.name, row.password_hash, row.created_at, row.updated_at)

    def get(self, name: str) -> DashboardUser | None:
        with self._db.transaction() as session:
            row = session.get(DashboardUserRow, name)
            return (
                None
                if row is None
                else DashboardUser(row.name, row.password_hash, row.created_at, row.updated_at)
            )

    def all(self) -> list[DashboardUser]:
        with self._db.transaction() as session:
            rows = session.scalars(select(DashboardUserRow).order_by(DashboardUserRow.name))
            return [DashboardUser(r.name, r.password_hash, r.created_at, r.updated_at) for r in rows]

    def remove(self, name: str) -> bool:
        """Remove a dashboard user; False if there was none of that name."""
        with self._db.transaction() as session:
            row = session.get(DashboardUserRow, name)
            if row is None:
                return False
            session.delete(row)
            return True
