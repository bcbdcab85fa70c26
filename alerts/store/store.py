"""The store: one database, a repository per resource (incidents, cameras, dashboard users and their sign-ins,
the outbox, workers and their camera leases)."""

from __future__ import annotations

from fallwatch.alerts.store.cameras import CameraStatuses
from fallwatch.alerts.store.database import Database, connect
from fallwatch.alerts.store.incidents import Incidents
from fallwatch.alerts.store.leases import Leases
from fallwatch.alerts.store.outbox import MessageRouter, NoReceivers, Outbox
from fallwatch.alerts.store.sessions import DashboardSessions
from fallwatch.alerts.store.users import DashboardUsers


class Store:
    """Thread-safe (one short session per call); hands out frozen records, never ORM rows."""

    def __init__(self, db: Database, router: MessageRouter):
        self._db = db
        self.url = db.url
        self.outbox = Outbox(db, router)
        self.incidents = Incidents(db, self.outbox)
        self.cameras = CameraStatuses(db)
        self.users = DashboardUsers(db)
        self.sessions = DashboardSessions(db)
        self.leases = Leases(db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_store(
    url: str, router: MessageRouter | None = None, connect_timeout_s: float = 5.0, *, upgrade: bool = True
) -> Store:
    """Open (and by default create or upgrade) the store at `url`; FallWatchError if it cannot be used."""
    return Store(connect(url, connect_timeout_s, upgrade=upgrade), router or NoReceivers())
