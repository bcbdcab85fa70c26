"""Who may sign in: users from the configuration (dashboard.users) and from the database, as password hashes.

A name in the configuration is checked against the configuration's hash only; other names against the
database. `User` is what a successful sign-in hands out, and what reading media requires.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from threading import Lock

from fallwatch.alerts.store import Store
from fallwatch.dashboard.passwords import verify_password

MAX_FAILURES = 5  # wrong passwords for one name ...
FAILURE_WINDOW_S = 300.0  # ... within this long lock that name out for the rest of the window


@dataclass(frozen=True, slots=True)
class User:
    name: str


@dataclass(slots=True)
class Throttle:
    """Wrong passwords per user name, in this process: slows down guessing from any number of browser tabs."""

    failures: dict[str, deque[float]] = field(default_factory=dict)
    lock: Lock = field(default_factory=Lock)

    def locked_for(self, name: str, now: float | None = None) -> float:
        """Seconds until `name` may try again (0 when it may now)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            recent = self.failures.get(name, deque())
            while recent and now - recent[0] > FAILURE_WINDOW_S:
                recent.popleft()
            if len(recent) < MAX_FAILURES:
                return 0.0
            return FAILURE_WINDOW_S - (now - recent[0])

    def failed(self, name: str, now: float | None = None) -> None:
        with self.lock:
            self.failures.setdefault(name, deque()).append(time.monotonic() if now is None else now)

    def succeeded(self, name: str) -> None:
        with self.lock:
            self.failures.pop(name, None)


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
