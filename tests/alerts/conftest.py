"""Fixtures for the alerts tests: real databases (SQLite files and PostgreSQL), and engine-made events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from fallwatch.alerts.engine import AlertEngine
from fallwatch.alerts.messages import Routing
from fallwatch.alerts.records import WriteItem, utcnow
from fallwatch.alerts.store import Store, open_store, table_names
from fallwatch.core.config import AlertsConfig
from fallwatch.core.types import Prediction

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
N = {"normal": 0.9, "falling": 0.05, "lying": 0.05}
F = {"normal": 0.05, "falling": 0.9, "lying": 0.05}
L = {"normal": 0.05, "falling": 0.05, "lying": 0.9}


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 for this test session, dropped afterwards."""
    name = f"fallwatch_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 as user postgres (CI starts it): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a new SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fallwatch.db'}"
    url: str = request.getfixturevalue("pg_database")
    with open_store(url) as store:
        empty(store)
    return url


def empty(store: Store) -> None:
    with store._engine.begin() as connection:  # test-only reach inside: wipe rows, keep the schema
        names = ", ".join(table_names())
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def store_factory(db_url: str) -> Iterator[object]:
    opened: list[Store] = []

    def factory(routing: Routing | None = None) -> Store:
        store = open_store(db_url, routing)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def fall_items(
    camera: str = "hall", track: int = 1, start: float = 0.0, stay_down_s: float = 12.0
) -> list[WriteItem]:
    """Write items made by the real engine: a fall at `start`, lying still, then getting up."""
    engine = AlertEngine(AlertsConfig(smoothing=1.0), run_id=f"{uuid.uuid4().hex[:6]}:")
    box = (100.0, 240.0, 300.0, 300.0)
    rows = [(start + 0.5 * i, F) for i in range(2)]
    rows += [(start + 1.0 + 0.5 * i, L) for i in range(int(stay_down_s * 2))]
    rows += [(start + 1.0 + stay_down_s + 0.5 * i, N) for i in range(3)]
    alerts = [a for pts, scores in rows for a in engine.feed(Prediction(camera, track, pts, scores, box))]
    alerts += engine.finish()
    return [WriteItem(uuid.uuid4().hex, a.event, utcnow(), a.zone, a.samples) for a in alerts]
