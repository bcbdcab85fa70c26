"""The store's queries and writes for the dashboard (filters, counts, camera status, users, resolve, notes,
track boxes), against real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta

import pytest

from fallwatch.alerts.records import (
    CameraState,
    IncidentKind,
    IncidentQuery,
    Status,
    WriteItem,
    utcnow,
)
from fallwatch.alerts.store import Store
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import EventKind, Severity
from tests.alerts.conftest import fall_items

Factory = Callable[..., Store]
BOX = (100.0, 240.0, 300.0, 300.0)


def _stored(store: Store, camera: str, stay_down_s: float = 12.0) -> list[WriteItem]:
    items = [dataclasses.replace(i, box=BOX) for i in fall_items(camera=camera, stay_down_s=stay_down_s)]
    for item in items:
        assert store.incidents.apply(item)
    return items


def test_filters_and_counts(store_factory: Factory) -> None:
    store = store_factory()
    _stored(store, "hall")  # escalates to a collapse (critical)
    _stored(store, "ward", stay_down_s=2.0)  # a fall that does not escalate
    store.incidents.mark_false_alarm(2, "nurse")

    assert [i.camera for i in store.incidents.query(IncidentQuery())] == ["ward", "hall"]  # newest first
    assert [i.id for i in store.incidents.query(IncidentQuery(cameras=("hall",)))] == [1]
    assert [i.id for i in store.incidents.query(IncidentQuery(kinds=(IncidentKind.FALL,)))] == [2]
    assert [i.id for i in store.incidents.query(IncidentQuery(severities=(Severity.CRITICAL,)))] == [1]
    assert [i.id for i in store.incidents.query(IncidentQuery(statuses=(Status.FALSE_ALARM,)))] == [2]
    assert store.incidents.query(IncidentQuery(since=utcnow() + timedelta(minutes=1))) == []
    assert len(store.incidents.query(IncidentQuery(until=utcnow() + timedelta(minutes=1), limit=1))) == 1

    counts = store.incidents.count(IncidentQuery())
    assert (counts.total, counts.open, counts.false_alarm, counts.critical_open, counts.active) == (
        2,
        1,
        1,
        1,
        0,
    )
    assert store.incidents.count(IncidentQuery(cameras=("nowhere",))).total == 0
    with pytest.raises(ValueError, match="timezone-aware"):
        IncidentQuery(since=utcnow().replace(tzinfo=None))


def test_events_keep_the_tracks_box(store_factory: Factory) -> None:
    store = store_factory()
    items = _stored(store, "hall")
    assert WriteItem.from_json(items[0].to_json()).box == BOX  # survives the spool
    events = store.incidents.events(1)
    assert events[0].kind is EventKind.OPENED and events[0].box == BOX
    old = fall_items(camera="yard")[0]  # made without a box, as before revision 0002
    store.incidents.apply(old)
    assert store.incidents.events(2)[0].box is None
    assert WriteItem.from_json({k: v for k, v in old.to_json().items() if k != "box"}).box is None


def test_latest_incident_of_each_camera_and_camera_names(store_factory: Factory) -> None:
    store = store_factory()
    _stored(store, "hall")
    _stored(store, "ward")
    _stored(store, "hall")
    assert {camera: i.id for camera, i in store.incidents.latest_by_camera().items()} == {
        "hall": 3,
        "ward": 2,
    }
    store.cameras.report("yard", CameraState.CONNECTED, 10.0, 0, 0)
    assert store.incidents.camera_names() == ["hall", "ward", "yard"]


def test_camera_status_is_replaced_by_each_report(store_factory: Factory) -> None:
    store = store_factory()
    assert store.cameras.all() == []
    store.cameras.report("hall", CameraState.CONNECTED, 9.5, 0, 0, "cameras/hall/latest.jpg")
    store.cameras.report("hall", "reconnecting", 0.0, 12, 1, None, "  connection\nrefused ")  # type: ignore[arg-type]
    [status] = store.cameras.all()
    assert (status.state, status.fps, status.dropped, status.reconnects) == (
        CameraState.RECONNECTING,
        0.0,
        12,
        1,
    )
    assert status.frame_path is None and status.detail == "connection refused"
    assert utcnow() - status.updated_at < timedelta(seconds=30)


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.jpg", "a/../../x.jpg", "a//b.jpg", "a\\b.jpg", ""])
def test_camera_frames_must_be_inside_the_media_root(store_factory: Factory, path: str) -> None:
    with pytest.raises(ValueError, match="relative to the media root"):
        store_factory().cameras.report("hall", CameraState.CONNECTED, 1.0, 0, 0, path)


def test_bad_camera_reports_are_refused(store_factory: Factory) -> None:
    store = store_factory()
    with pytest.raises(ValueError, match="fps must be >= 0"):
        store.cameras.report("hall", CameraState.CONNECTED, float("nan"), 0, 0)
    with pytest.raises(FallWatchError, match="camera name"):
        store.cameras.report("a b", CameraState.CONNECTED, 1.0, 0, 0)


def test_resolve_and_notes_record_who(store_factory: Factory) -> None:
    store = store_factory()
    _stored(store, "hall")
    incident = store.incidents.resolve(1, "nurse", "helped up")
    assert incident.status is Status.RESOLVED and incident.updated_by == "nurse"
    with pytest.raises(FallWatchError, match="already resolved"):
        store.incidents.resolve(1, "carer")
    store.incidents.add_note(1, "carer", "  family   informed ")
    with pytest.raises(FallWatchError, match="must say something"):
        store.incidents.add_note(1, "carer", "   ")
    changes = [(c.by, c.field, c.new, c.note) for c in store.incidents.changes(1) if c.by != "engine"]
    assert changes == [
        ("nurse", "status", "resolved", "helped up"),
        ("carer", "note", "family informed", "family informed"),
    ]
    notes = store.incidents.get(1).notes.splitlines()
    assert notes[0].endswith("nurse: helped up") and notes[1].endswith("carer: family informed")
    store.incidents.mark_false_alarm(1, "nurse")
    with pytest.raises(FallWatchError, match="false alarm; it cannot be resolved"):
        store.incidents.resolve(1, "nurse")


def test_dashboard_users_are_kept_as_hashes(store_factory: Factory) -> None:
    store = store_factory()
    assert store.users.all() == [] and store.users.get("nurse") is None
    store.users.set("nurse", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA")
    store.users.set("nurse", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$bmV3")
    [user] = store.users.all()
    assert (
        user.name == "nurse" and user.password_hash.endswith("$bmV3") and user.updated_at >= user.created_at
    )
    with pytest.raises(ValueError, match="never a password"):
        store.users.set("carer", "plain text password")
    assert store.users.remove("nurse") and not store.users.remove("nurse")
