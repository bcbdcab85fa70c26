"""Sessions that outlive a page reload, kept server-side in the store (no Streamlit here: the cookie route and
the pages share it).

Signing in opens a session and hands the page a one-time grant, good for GRANT_LIFETIME_S. The page's script
posts the grant to the cookie route (dashboard/cookie_route.py), which trades it for a new token and sets that
as an HttpOnly cookie, so no script ever sees the token itself. A later page load finds its session by the
cookie; every run of a page checks again that the session still lasts (not ended by a sign-out in another tab,
not run out, same password).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from fallwatch.alerts.records import utcnow
from fallwatch.alerts.store import DashboardSession, Store
from fallwatch.dashboard.tokens import TokenKey, fingerprint, new_token

GRANT_LIFETIME_S = 120.0  # from the sign-in to the page's script taking its cookie


@dataclass(frozen=True, slots=True)
class Sessions:
    store: Store
    key: TokenKey
    lifetime_s: float  # dashboard.session_hours

    def open(self, user_name: str, password_hash: str) -> tuple[DashboardSession, str]:
        """A new session for a user who just signed in, and the grant to claim its cookie with."""
        grant, now = new_token(), utcnow()
        session = self.store.sessions.open(
            user_name,
            fingerprint(password_hash),
            self.key.digest(grant),
            now + timedelta(seconds=GRANT_LIFETIME_S),
            now + timedelta(seconds=self.lifetime_s),
        )
        return session, grant

    def claim(self, grant: str) -> tuple[DashboardSession, str] | None:
        """The session and its new token for a live grant; None for anything else (a grant works once)."""
        token = new_token()
        session = self.store.sessions.claim(self.key.digest(grant), self.key.digest(token))
        return None if session is None else (session, token)

    def holder(self, token: str, password_hash_of: Callable[[str], str | None]) -> DashboardSession | None:
        """The live session of a cookie, if its user still has the password it was opened with."""
        session = self.store.sessions.find(self.key.digest(token))
        if session is None or not _same_password(session, password_hash_of(session.user_name)):
            return None
        return session

    def lasts(self, session_id: int, user_name: str, password_hash: str) -> bool:
        session = self.store.sessions.get(session_id)
        return (
            session is not None and session.user_name == user_name and _same_password(session, password_hash)
        )

    def end(self, session_id: int) -> None:
        self.store.sessions.end(session_id)

    def end_token(self, token: str) -> None:
        self.store.sessions.end_token(self.key.digest(token))


def _same_password(session: DashboardSession, password_hash: str | None) -> bool:
    return password_hash is not None and session.password_fingerprint == fingerprint(password_hash)
