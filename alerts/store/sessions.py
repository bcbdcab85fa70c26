"""Dashboard sign-ins: sessions and failed sign-ins, in the store so that they are shared by every dashboard
process and outlive a restart (a restart neither signs anyone out nor lifts a lockout).

The store keeps and looks up only hashes (the dashboard makes them, keyed with its secret): a copy of this table
gives no one a session. A session starts with a one-time grant; `claim` trades it for the token the browser keeps
as its cookie, in one UPDATE, so that a grant works at most once even with two tries at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from fallwatch.alerts.records import utcnow
from fallwatch.alerts.store.database import Database
from fallwatch.alerts.store.tables import DashboardSessionRow, SignInFailureRow

NAME_LENGTH = 64  # longer names are no user's: they are not recorded


@dataclass(frozen=True, slots=True)
class DashboardSession:
    id: int
    user_name: str
    password_fingerprint: str  # of the password the user signed in with
    created_at: datetime
    expires_at: datetime


def _record(row: DashboardSessionRow) -> DashboardSession:
    return DashboardSession(row.id, row.user_name, row.password_fingerprint, row.created_at, row.expires_at)


class DashboardSessions:
    def __init__(self, db: Database):
        self._db = db

    def open(
        self,
        user_name: str,
        password_fingerprint: str,
        grant_hash: str,
        grant_expires_at: datetime,
        expires_at: datetime,
    ) -> DashboardSession:
        """A new session for `user_name`, to be claimed with the grant before `grant_expires_at`. Sessions that
        have run out are deleted on the way."""
        now = utcnow()
        with self._db.transaction() as session:
            session.execute(delete(DashboardSessionRow).where(DashboardSessionRow.expires_at <= now))
            row = DashboardSessionRow(
                user_name=user_name,
                password_fingerprint=password_fingerprint,
                grant_hash=grant_hash,
                grant_expires_at=grant_expires_at,
                created_at=now,
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            return _record(row)

    def claim(self, grant_hash: str, token_hash: str, now: datetime | None = None) -> DashboardSession | None:
        """Trade a live grant for a token; the session, or None when the grant is unknown, used or run out."""
        now = now or utcnow()
        rows = DashboardSessionRow
        with self._db.transaction() as session:
            claimed = session.execute(
                update(rows)
                .where(rows.grant_hash == grant_hash, rows.grant_expires_at > now, rows.expires_at > now)
                .values(token_hash=token_hash, grant_hash=None, grant_expires_at=None)
                .returning(rows.id)
            ).scalar_one_or_none()
            return None if claimed is None else _record(session.get_one(rows, claimed))

    def find(self, token_hash: str, now: datetime | None = None) -> DashboardSession | None:
        """The live session whose token hashes to `token_hash`."""
        rows = DashboardSessionRow
        with self._db.transaction() as session:
            row = session.scalars(
                select(rows).where(rows.token_hash == token_hash, rows.expires_at > (now or utcnow()))
            ).first()
            return None if row is None else _record(row)

    def get(self, session_id: int, now: datetime | None = None) -> DashboardSession | None:
        """The session, while it lasts: None once it has ended or run out."""
        with self._db.transaction() as session:
            row = session.get(DashboardSessionRow, session_id)
            return None if row is None or row.expires_at <= (now or utcnow()) else _record(row)

    def end(self, session_id: int) -> None:
        with self._db.transaction() as session:
            session.execute(delete(DashboardSessionRow).where(DashboardSessionRow.id == session_id))

    def end_token(self, token_hash: str) -> None:
        with self._db.transaction() as session:
            session.execute(delete(DashboardSessionRow).where(DashboardSessionRow.token_hash == token_hash))

    def end_all(self, user_name: str) -> int:
        """End every session of `user_name` (a new password, a removed user); how many there were."""
        with self._db.transaction() as session:
            ended = session.execute(
                delete(DashboardSessionRow).where(DashboardSessionRow.user_name == user_name)
            )
            return int(getattr(ended, "rowcount", 0) or 0)  # a CursorResult's, which mypy does not know

    # --- failed sign-ins ------------------------------------------------------------------------------------------

    def failed_sign_in(self, user_name: str, at: datetime, forget_before: datetime | None = None) -> None:
        """Record a wrong password for `user_name`; failures of any name before `forget_before` are deleted."""
        if not user_name or len(user_name) > NAME_LENGTH:
            return
        with self._db.transaction() as session:
            if forget_before is not None:
                session.execute(delete(SignInFailureRow).where(SignInFailureRow.at < forget_before))
            session.add(SignInFailureRow(user_name=user_name, at=at))

    def failed_sign_ins(self, user_name: str, since: datetime) -> list[datetime]:
        """When `user_name` was given a wrong password since `since`, oldest first."""
        rows = SignInFailureRow
        with self._db.transaction() as session:
            return list(
                session.scalars(
                    select(rows.at).where(rows.user_name == user_name, rows.at >= since).order_by(rows.at)
                )
            )

    def clear_failed_sign_ins(self, user_name: str) -> None:
        with self._db.transaction() as session:
            session.execute(delete(SignInFailureRow).where(SignInFailureRow.user_name == user_name))
