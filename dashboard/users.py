"""Who may sign in: users from the configuration (dashboard.users) and from the database, as password hashes.

A name in the configuration is checked against the configuration's hash only; other names against the
database. `User` is what a successful sign-in hands out, and what reading media requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fallwatch.alerts.records import utcnow
from fallwatch.alerts.store import Store
from fallwatch.dashboard.passwords import verify_password

MAX_FAILURES = 5  # wrong passwords for one name ...
FAILURE_WINDOW_S = 300.0  # ... within this long lock that name out for the rest of the window


@dataclass(frozen=True, slots=True)
class User:
    name: str


@dataclass(frozen=True, slots=True)
class Throttle:
    """Wrong passwords per user name, kept in the store: slows down guessing from any number of browser tabs and
    dashboard processes, and restarting the dashboard does not lift a lockout."""

    store: Store

    def locked_for(self, name: str, now: datetime | None = None) -> float:
        """Seconds until `name` may try again (0 when it may now)."""
        now = now or utcnow()
        recent = self.store.sessions.failed_sign_ins(name, since=now - timedelta(seconds=FAILURE_WINDOW_S))
        if len(recent) < MAX_FAILURES:
            return 0.0
        # Free again once the MAX_FAILURES-th newest failure has left the window.
        return max(0.0, FAILURE_WINDOW_S - (now - recent[-MAX_FAILURES]).total_seconds())

    def failed(self, name: str, now: datetime | None = None) -> None:
        now = now or utcnow()
        self.store.sessions.failed_sign_in(name, now, forget_before=now - timedelta(seconds=FAILURE_WINDOW_S))

    def succeeded(self, name: str) -> None:
        self.store.sessions.clear_failed_sign_ins(name)


@dataclass(frozen=True, slots=True)
class Directory:
    configured: dict[str, str]  # name -> argon2 hash, from dashboard.users
    store: Store

    def password_hash(self, name: str) -> str | None:
        if name in self.configured:
            return self.configured[name]
        stored = self.store.users.get(name)
        return None if stored is None else stored.password_hash

    def check(self, name: str, password: str) -> User | None:
        """The user if `password` is theirs, else None (an unknown name costs as much time as a wrong password)."""
        name = name.strip()
        if not name or len(name) > 64:
            verify_password(None, password)
            return None
        return User(name) if verify_password(self.password_hash(name), password) else None

    def has_users(self) -> bool:
        return bool(self.configured) or bool(self.store.users.all())
