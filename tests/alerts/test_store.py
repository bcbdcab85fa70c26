"""The store against real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from fallwatch.alerts.engine import AlertEngine
from fallwatch.alerts.notifiers.messages import Destination, Routing
from fallwatch.alerts.records import (
    DeliveryAttempt,
    DeliveryStatus,
    IncidentKind,
    IncidentQuery,
    MediaRefs,
    Outcome,
    Status,
    WriteItem,
    utcnow,
)
from fallwatch.alerts.store import Store, open_store, parse_url
from fallwatch.alerts.store.database import VERSION_TABLE
from fallwatch.alerts.store.tables import Base
from fallwatch.core.config import AlertsConfig
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import EventKind, Prediction, Severity
from tests.alerts.conftest import F, L, N, fall_items

Factory = Callable[..., Store]
HOOKS = Routing(
    (Destination("ops", "http://127.0.0.1:9/hook"), Destination("mqtt", "mqtt://127.0.0.1:1883/fw"))
)


def test_the_migrated_schema_matches_the_models(store_factory: Factory) -> None:
    store = store_factory()
    with store._db._engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []
    reopened = store_factory()  # opening again finds the schema current and changes nothing
    assert reopened.incidents.query() == []
    if store._db._engine.dialect.name == "sqlite":
        with store._db._engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_an_event_writes_incident_timeline_audit_and_outbox_together(store_factory: Factory) -> None:
    store = store_factory(HOOKS)
    opened, escalated, recovered, closed = fall_items()
    media = MediaRefs("hall/2025-01-01/x.jpg", "hall/2025-01-01/x.mp4")
    assert store.incidents.apply(dataclasses.replace(opened, media=media, zone="kitchen"))

    [incident] = store.incidents.query()
    assert (incident.kind, incident.severity, incident.status) == (
        IncidentKind.FALL,
        Severity.WARNING,
        Status.OPEN,
    )
    assert (incident.camera, incident.zone, incident.snapshot_path) == ("hall", "kitchen", media.snapshot)
    assert incident.active and incident.opened_pts == opened.event.pts
    assert [p.pts for p in store.incidents.timeline(incident.id)] == [s.pts for s in opened.samples]
    outbox = store.outbox.entries(incident.id)
    assert sorted(o.destination for o in outbox) == ["mqtt", "ops"]
    assert {o.event for o in outbox} == {"incident.opened"}
    assert len({o.delivery_id for o in outbox}) == 2
    body = json.loads(outbox[0].payload)
    assert (
        body["incident_id"] == incident.id
        and body["kind"] == "fall"
        and body["snapshot_url"] == media.snapshot
    )
    assert body["sequence"] == 1 and body["camera"] == "hall"

    for item in (escalated, recovered, closed):
        assert store.incidents.apply(item)
    incident = store.incidents.get(incident.id)
    assert (incident.kind, incident.severity) == (IncidentKind.COLLAPSE, Severity.CRITICAL)
    assert incident.outcome is Outcome.RECOVERED and not incident.active  # CLOSED after RECOVERED keeps it
    assert incident.status is Status.OPEN  # nobody has looked at it yet
    assert [e.kind for e in store.incidents.events(incident.id)] == [
        EventKind.OPENED,
        EventKind.ESCALATED,
        EventKind.RECOVERED,
        EventKind.CLOSED,
    ]
    sequences = [
        json.loads(o.payload)["sequence"] for o in store.outbox.entries(incident.id) if o.destination == "ops"
    ]
    assert sequences == [1, 2, 3, 4]
    assert len(store.incidents.timeline(incident.id)) == sum(len(i.samples) for i in fall_items())


def test_the_same_write_applied_twice_changes_nothing(store_factory: Factory) -> None:
    store = store_factory(HOOKS)
    opened = fall_items()[0]
    assert store.incidents.apply(opened) is True
    assert store.incidents.apply(opened) is False
    [incident] = store.incidents.query()
    assert len(store.incidents.events(incident.id)) == 1 and len(store.outbox.entries()) == 2


def test_people_acknowledge_and_dismiss_with_an_audit_trail(store_factory: Factory) -> None:
    store = store_factory(HOOKS)
    first, second = fall_items("hall")[0], fall_items("kitchen")[0]
    store.incidents.apply(first)
    store.incidents.apply(second)
    a, b = sorted(i.id for i in store.incidents.query())

    acked = store.incidents.acknowledge(a, "ann", "on my way")
    assert (
        acked.status is Status.ACKNOWLEDGED and acked.updated_by == "ann" and "ann: on my way" in acked.notes
    )
    with pytest.raises(FallWatchError, match=f"incident {a} is already acknowledged"):
        store.incidents.acknowledge(a, "bob")
    dismissed = store.incidents.mark_false_alarm(b, "bob", "cat on the sofa")
    assert dismissed.status is Status.FALSE_ALARM
    with pytest.raises(FallWatchError, match="false alarm"):
        store.incidents.acknowledge(b, "ann")
    with pytest.raises(FallWatchError, match=f"incident {b} is already a false alarm \\(by bob at "):
        store.incidents.mark_false_alarm(b, "ann")

    for item in fall_items("hall")[1:]:  # the engine ends the acknowledged incident: it becomes resolved
        store.incidents.apply(
            dataclasses.replace(
                item, event=dataclasses.replace(item.event, incident_key=first.event.incident_key)
            )
        )
    assert store.incidents.get(a).status is Status.RESOLVED
    changes = [(c.by, c.field, c.old, c.new) for c in store.incidents.changes(a) if c.field == "status"]
    assert changes == [
        ("engine", "status", None, "open"),
        ("ann", "status", "open", "acknowledged"),
        ("engine", "status", "acknowledged", "resolved"),
    ]
    assert [o.event for o in store.outbox.entries(b) if o.destination == "ops"] == [
        "incident.opened",
        "incident.false_alarm",
    ]
    assert [i.id for i in store.incidents.query(IncidentQuery(statuses=(Status.FALSE_ALARM,)))] == [b]


def test_unknown_incidents_and_missing_names_are_one_line_errors(store_factory: Factory) -> None:
    store = store_factory()
    with pytest.raises(FallWatchError, match=r"^incident 999 not found \(see `fallwatch incidents list`\)$"):
        store.incidents.get(999)
    with pytest.raises(FallWatchError, match="incident 999 not found"):
        store.incidents.acknowledge(999, "ann")
    store.incidents.apply(fall_items()[0])
    with pytest.raises(FallWatchError, match="--by must name who is acting"):
        store.incidents.acknowledge(store.incidents.query()[0].id, "   ")


def test_outbox_hands_out_messages_in_order_per_incident_and_receiver(store_factory: Factory) -> None:
    store = store_factory(Routing((Destination("ops", "http://127.0.0.1:9/hook"),)))
    for item in fall_items("hall") + fall_items("kitchen"):
        store.incidents.apply(item)
    now = utcnow()
    first = store.outbox.claim_due(now, "w1", lease_s=30, limit=100)
    # Only the head of each incident's queue is due; the heads are leased to w1 and the rest wait behind them.
    assert [json.loads(e.payload)["sequence"] for e in first] == [1, 1]
    assert store.outbox.claim_due(now, "w2", lease_s=30, limit=100) == []

    ok = DeliveryAttempt(utcnow(), True, 200, None, 5.0)
    store.outbox.record_delivery(first[0].id, ok, DeliveryStatus.DELIVERED)
    retry = DeliveryAttempt(utcnow(), False, 503, "HTTP 503", 5.0)
    store.outbox.record_delivery(first[1].id, retry, DeliveryStatus.PENDING, now + timedelta(seconds=60))
    second = store.outbox.claim_due(utcnow(), "w1", lease_s=30, limit=100)
    assert [(e.incident_id, json.loads(e.payload)["sequence"]) for e in second] == [(first[0].incident_id, 2)]
    later = store.outbox.claim_due(now + timedelta(seconds=61), "w2", lease_s=30, limit=100)
    assert first[1].id in [e.id for e in later]  # due again after its backoff
    assert [a.status_code for a in store.outbox.attempts(first[1].id)] == [503]


def test_a_lease_of_a_dead_notifier_runs_out_and_expired_messages_unblock_the_queue(
    store_factory: Factory,
) -> None:
    store = store_factory(Routing((Destination("ops", "http://127.0.0.1:9/hook"),), expire_after_s=60))
    for item in fall_items()[:2]:
        store.incidents.apply(item)
    now = utcnow()
    [taken] = store.outbox.claim_due(now, "dead", lease_s=5, limit=10)
    assert store.outbox.claim_due(now + timedelta(seconds=4), "next", lease_s=5, limit=10) == []
    [again] = store.outbox.claim_due(now + timedelta(seconds=6), "next", lease_s=5, limit=10)
    assert again.delivery_id == taken.delivery_id  # the same id: a receiver that got it before drops the copy

    assert store.outbox.expire_due(now + timedelta(seconds=120)) == 2
    statuses = {o.status for o in store.outbox.entries()}
    assert statuses == {DeliveryStatus.EXPIRED}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not a URL"),
        ("mysql://u@localhost/db", "unsupported database 'mysql'"),
        (
            "postgresql+psycopg://u:hunter2@localhost/db",
            "a password in the URL is refused; put it in PGPASSWORD",
        ),
        ("sqlite:////no/such/dir/x.db", "directory /no/such/dir does not exist"),
        ("sqlite://", "SQLite needs a file path"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/fallwatch", "cannot connect"),
    ],
)
def test_bad_database_urls_are_one_line_errors(url: str, expected: str) -> None:
    with pytest.raises(FallWatchError) as caught:
        open_store(url, connect_timeout_s=2)
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert "hunter2" not in message


def test_plain_postgresql_urls_use_psycopg() -> None:
    assert parse_url("postgresql://fw@db:5432/fallwatch").drivername == "postgresql+psycopg"


def test_records_are_frozen(store_factory: Factory) -> None:
    store = store_factory()
    store.incidents.apply(fall_items()[0])
    incident = store.incidents.query()[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        incident.status = Status.RESOLVED  # type: ignore[misc]


def fall_up_fall_items() -> list[WriteItem]:
    """Write items made by the real engine: a fall, getting up, and a second fall within the cooldown."""
    engine = AlertEngine(AlertsConfig(smoothing=1.0), run_id=f"{uuid.uuid4().hex[:6]}:")
    box = (100.0, 240.0, 300.0, 300.0)
    scores = [F, F, L, L, N, N, N, F, F, L]
    alerts = [a for i, s in enumerate(scores) for a in engine.feed(Prediction("hall", 1, 0.5 * i, s, box))]
    return [WriteItem(uuid.uuid4().hex, a.event, utcnow(), a.zone, a.samples) for a in alerts]


def test_a_fall_after_getting_up_reopens_the_incident_and_tells_every_receiver(
    store_factory: Factory,
) -> None:
    store = store_factory(HOOKS)
    opened, recovered, fell_again = fall_up_fall_items()
    assert fell_again.event.kind is EventKind.FELL_AGAIN
    for item in (opened, recovered):
        store.incidents.apply(item)
    [incident] = store.incidents.query()
    assert incident.outcome is Outcome.RECOVERED and not incident.active

    assert store.incidents.apply(fell_again)
    incident = store.incidents.get(incident.id)
    assert incident.active and incident.outcome is None and incident.ended_at is None
    assert incident.status is Status.OPEN
    assert [e.kind for e in store.incidents.events(incident.id)] == [
        EventKind.OPENED,
        EventKind.RECOVERED,
        EventKind.FELL_AGAIN,
    ]
    outcome_changes = [
        (c.by, c.old, c.new) for c in store.incidents.changes(incident.id) if c.field == "outcome"
    ]
    assert outcome_changes == [("engine", None, "recovered"), ("engine", "recovered", None)]
    told = [o for o in store.outbox.entries(incident.id) if o.event == "incident.fell_again"]
    assert sorted(o.destination for o in told) == ["mqtt", "ops"]  # one message per receiver
    body = json.loads(told[0].payload)
    assert body["event"] == "incident.fell_again" and body["sequence"] == 3
    assert body["outcome"] is None and body["ended_at"] is None and body["pts"] == fell_again.event.pts
    assert [i.id for i in store.incidents.query(IncidentQuery(active=True))] == [incident.id]


@pytest.mark.parametrize("decision", ["resolve", "acknowledge"])
def test_a_fall_after_a_person_closed_the_incident_reopens_it_for_review(
    store_factory: Factory, decision: str
) -> None:
    store = store_factory(HOOKS)
    opened, recovered, fell_again = fall_up_fall_items()
    store.incidents.apply(opened)
    [incident] = store.incidents.query()
    if decision == "acknowledge":  # taken while down: the engine resolves it when the person gets up
        store.incidents.acknowledge(incident.id, "ann", "on my way")
        store.incidents.apply(recovered)
    else:
        store.incidents.apply(recovered)
        store.incidents.resolve(incident.id, "ann", "checked: fine")
    assert store.incidents.get(incident.id).status is Status.RESOLVED

    store.incidents.apply(fell_again)
    incident = store.incidents.get(incident.id)
    assert incident.status is Status.OPEN and incident.active
    [reopened] = [c for c in store.incidents.changes(incident.id) if c.field == "status" and c.new == "open"][
        1:
    ]
    assert (reopened.by, reopened.old, reopened.note) == (
        "engine",
        "resolved",
        "fell again after it was resolved",
    )
    last = [o for o in store.outbox.entries(incident.id) if o.destination == "ops"][-1]
    assert last.event == "incident.fell_again" and json.loads(last.payload)["status"] == "open"
