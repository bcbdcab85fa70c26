"""The writer keeps what it accepted while the database is down, and writes it when it returns."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fallwatch.alerts.notifiers.messages import Destination, Routing
from fallwatch.alerts.store import Store, open_store
from fallwatch.alerts.writer import IncidentWriter, Spool
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import EventKind
from tests.alerts.conftest import fall_items
from tests.alerts.pgserver import TempPostgres

ROUTING = Routing((Destination("ops", "http://127.0.0.1:9/hook"),))


@pytest.fixture
def postgres() -> Iterator[TempPostgres]:
    try:
        server = TempPostgres().init()
    except (RuntimeError, KeyError) as exc:  # KeyError: no postgres user to run it as
        pytest.skip(f"cannot create a PostgreSQL cluster here: {exc}")
    server.start()
    try:
        yield server
    finally:
        server.destroy()


def writer_for(url: str, spool_dir: Path) -> IncidentWriter:
    return IncidentWriter(lambda: open_store(url, ROUTING, 2.0), Spool(spool_dir, 1000), 0.1, 0.5).start()


def counts(store: Store) -> tuple[int, int, int]:
    incidents = store.incidents.query()
    events = sum(len(store.incidents.events(i.id)) for i in incidents)
    return len(incidents), events, len(store.outbox.entries())


def test_incidents_detected_while_postgres_is_down_are_written_when_it_returns(
    postgres: TempPostgres, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    hall, kitchen, garden = fall_items("hall"), fall_items("kitchen"), fall_items("garden")
    writer = writer_for(postgres.url, spool_dir)
    for item in hall:
        writer.submit(item)
    assert writer.flush(20), writer.last_error
    with open_store(postgres.url) as store:
        assert counts(store) == (1, 4, 4)

    postgres.stop()
    for item in kitchen:  # detected while the database is down
        writer.submit(item)
    assert not writer.flush(1.5)
    assert writer.backlog == 4 and "database" in (writer.last_error or "")
    kept = [json.loads(p.read_text())["event"]["camera"] for p in sorted(spool_dir.glob("*.json"))]
    assert kept == ["kitchen"] * 4  # on disk, in order

    # The process stops while the database is still down; a new one picks the spool up.
    assert writer.stop(timeout_s=0.5) is False
    writer = writer_for(postgres.url, spool_dir)
    for item in garden:
        writer.submit(item)
    time.sleep(0.5)
    postgres.start()
    assert writer.flush(30), writer.last_error
    assert writer.stop()

    with open_store(postgres.url) as store:
        assert counts(store) == (3, 12, 12)
        for incident in store.incidents.query():
            assert [e.kind for e in store.incidents.events(incident.id)] == [
                EventKind.OPENED,
                EventKind.ESCALATED,
                EventKind.RECOVERED,
                EventKind.CLOSED,
            ]
    assert list(spool_dir.glob("*.json")) == []


def test_a_write_applied_just_before_a_crash_is_not_applied_twice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fw.db'}"
    item = fall_items()[0]
    with open_store(url, ROUTING) as store:
        store.incidents.apply(item)  # in the store, but the crash came before its spool file was deleted
    spool = Spool(tmp_path / "spool", 10)
    spool.put(item)
    writer = IncidentWriter(lambda: open_store(url, ROUTING), spool, 0.1, 0.5).start()
    assert writer.stop(10)
    with open_store(url) as store:
        assert counts(store) == (1, 1, 1)


def test_a_full_spool_refuses_new_items_loudly_and_keeps_the_old(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", 10)
    items = fall_items() * 3
    for item in items[:10]:
        spool.put(item)
    with pytest.raises(FallWatchError, match=r"incident spool .* is full \(10 items"):
        spool.put(items[10])
    assert len(spool.pending()) == 10
