"""The incident store (SQLAlchemy stays inside this package): `open_store(url)` gives a `Store` whose
repositories are `store.incidents`, `store.cameras`, `store.users`, `store.sessions` (dashboard sign-ins),
`store.outbox` and `store.leases` (workers and which cameras each holds)."""

from fallwatch.alerts.store.database import StoreUnavailable, default_url, migrate, parse_url, resolve_url
from fallwatch.alerts.store.incidents import ENGINE_USER
from fallwatch.alerts.store.leases import LeaseFenced, WorkerNameTaken
from fallwatch.alerts.store.outbox import Message, MessageRouter
from fallwatch.alerts.store.sessions import DashboardSession
from fallwatch.alerts.store.store import Store, open_store
from fallwatch.alerts.store.tables import table_names

__all__ = [
    "ENGINE_USER",
    "DashboardSession",
    "LeaseFenced",
    "Message",
    "MessageRouter",
    "Store",
    "StoreUnavailable",
    "WorkerNameTaken",
    "default_url",
    "migrate",
    "open_store",
    "parse_url",
    "resolve_url",
    "table_names",
]
