"""Workers and camera leases in the store, on real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from fallwatch.alerts.records import IncidentQuery, WriteItem, utcnow
from fallwatch.alerts.store import LeaseFenced, Store, WorkerNameTaken, open_store
from fallwatch.alerts.writer import IncidentWriter, Spool
from tests.alerts.conftest import fall_items

Factory = Callable[..., Store]
CAMERAS = ["hall", "lounge", "room-1", "room-2"]


def _register(store: Store, *names: str, lease_s: float = 10.0) -> None:
    for i, name in enumerate(names):
        store.leases.register(name, "test-host", 1000 + i, 0, None, lease_s)


def test_a_camera_is_claimed_by_one_worker_and_renewed_at_its_epoch(store_factory: Factory) -> None:
    store = store_factory()
    _register(store, "a", "b")
    store.leases.ensure(CAMERAS)
    won_a = store.leases.claim("a", CAMERAS, 2, lease_s=10)
    won_b = store.leases.claim("b", CAMERAS, 10, lease_s=10)
    assert sorted(won_a) == ["hall", "lounge"]  # in name order, two asked for
    assert sorted(won_b) == ["room-1", "room-2"]  # what a held: never taken while its lease runs
    assert set(won_a.values()) == {1}
    assert store.leases.renew("a", won_a, lease_s=10) == won_a
    assert store.leases.renew("a", {"room-1": 1}, lease_s=10) == {}  # not a's: nothing renewed
    holders = {lease.camera: lease.worker for lease in store.leases.leases()}
    assert holders == {"hall": "a", "lounge": "a", "room-1": "b", "room-2": "b"}
    workers = {w.name: w.cameras for w in store.leases.workers()}
    assert workers == {"a": ("hall", "lounge"), "b": ("room-1", "room-2")}


def test_a_lease_that_ran_out_is_taken_over_and_the_old_holder_cannot_renew_it(
    store_factory: Factory,
) -> None:
    store = store_factory()
    _register(store, "a", "b")
    store.leases.ensure(["hall"])
    old = store.leases.claim("a", ["hall"], 1, lease_s=0.5)
    assert store.leases.claim("b", ["hall"], 1, lease_s=10) == {}  # still a's
    time.sleep(0.7)
    new = store.leases.claim("b", ["hall"], 1, lease_s=10)
    assert new == {"hall": old["hall"] + 1}  # the epoch moves with every change of hands
    assert store.leases.renew("a", old, lease_s=10) == {}  # a learns it lost the camera
    (lease,) = store.leases.leases(["hall"])
    assert (lease.worker, lease.epoch) == ("b", 2)


def test_release_frees_at_once_and_stop_frees_everything(store_factory: Factory) -> None:
    store = store_factory()
    _register(store, "a", "b")
    store.leases.ensure(CAMERAS)
    held = store.leases.claim("a", CAMERAS, 4, lease_s=60)
    store.leases.release("a", {"hall": held["hall"]})
    assert sorted(store.leases.claim("b", CAMERAS, 4, lease_s=60)) == ["hall"]
    store.leases.stop("a")
    assert sorted(store.leases.claim("b", CAMERAS, 4, lease_s=60)) == ["lounge", "room-1", "room-2"]
    assert [worker.name for worker in store.leases.live_workers(lease_s=60)] == ["b"]


def test_a_worker_name_in_use_by_a_live_process_is_refused(store_factory: Factory) -> None:
    store = store_factory()
    store.leases.register("ward-1", "host-a", 10, 0, 9108, lease_s=30)
    with pytest.raises(WorkerNameTaken, match="worker name 'ward-1' is in use by host-a pid 10"):
        store.leases.register("ward-1", "host-b", 11, 0, 9108, lease_s=30)
    store.leases.register("ward-1", "host-a", 10, 0, 9108, lease_s=30)  # the same process again: fine
    store.leases.stop("ward-1")
    store.leases.register("ward-1", "host-b", 11, 0, 9108, lease_s=30)  # once stopped, the name is free


def test_an_event_after_a_takeover_is_fenced_and_one_from_before_is_kept(store_factory: Factory) -> None:
    store = store_factory()
    _register(store, "a", "b")
    store.leases.ensure(["hall"])
    old = store.leases.claim("a", ["hall"], 1, lease_s=0.3)["hall"]
    first, *rest = fall_items("hall")
    before = replace(first, lease_epoch=old, at=utcnow())  # seen while a held the camera
    time.sleep(0.5)
    store.leases.claim("b", ["hall"], 1, lease_s=10)
    late = replace(rest[0], lease_epoch=old, at=utcnow())  # seen by a after b had taken over
    assert store.incidents.apply(before)
    with pytest.raises(LeaseFenced, match=r"camera hall: event .* under lease epoch 1, after worker b took"):
        store.incidents.apply(late)
    (incident,) = store.incidents.query(IncidentQuery())
    assert [(e.kind, e.pts) for e in store.incidents.events(incident.id)] == [
        (first.event.kind, first.event.pts)
    ]
    unleased = replace(rest[0], lease_epoch=None)  # a one-off run without leases (eval, tests) is not fenced
    assert store.incidents.apply(unleased)


def test_the_writer_keeps_a_fenced_event_aside_and_goes_on(store_factory: Factory, tmp_path: Path) -> None:
    store = store_factory()
    _register(store, "a", "b")
    store.leases.ensure(["hall"])
    old = store.leases.claim("a", ["hall"], 1, lease_s=0.2)["hall"]
    time.sleep(0.4)
    store.leases.claim("b", ["hall"], 1, lease_s=10)
    items = fall_items("hall")
    fenced = replace(items[0], lease_epoch=old, at=utcnow())
    spool = Spool(tmp_path / "spool", 100)
    writer = IncidentWriter(lambda: open_store(store.url), spool)
    writer.start()
    writer.submit(fenced)
    writer.submit(replace(items[0], uid=uuid.uuid4().hex, lease_epoch=None))
    assert writer.stop(10)
    assert [p.name.split("-", 1)[1] for p in (tmp_path / "spool" / "failed").glob("*.json")] == [
        f"{fenced.uid}.json"
    ]
    reason = next((tmp_path / "spool" / "failed").glob("*.error.txt")).read_text()
    assert reason.startswith("fenced: camera hall")
    assert len(store.incidents.query(IncidentQuery())) == 1  # the unfenced one was written after it


def test_workers_racing_for_the_same_cameras_never_share_one(store_factory: Factory) -> None:
    """Eight workers claim twenty cameras at the same moment, each on its own connection: every camera is won
    once (compare-and-set on the epoch; on PostgreSQL, SKIP LOCKED spreads them)."""
    cameras = [f"cam-{i:02d}" for i in range(20)]
    stores = [store_factory() for _ in range(8)]
    _register(stores[0], *[f"w{i}" for i in range(8)])
    stores[0].leases.ensure(cameras)
    won: dict[str, list[str]] = {}
    barrier = threading.Barrier(len(stores))

    def claim(i: int) -> None:
        barrier.wait()
        for _ in range(3):  # SQLite may report itself busy: a worker simply tries again next round
            try:
                won[f"w{i}"] = sorted(stores[i].leases.claim(f"w{i}", cameras, 5, lease_s=30))
                return
            except Exception:  # StoreUnavailable, or a busy SQLite
                time.sleep(0.1)
        won[f"w{i}"] = []

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    claimed = [camera for names in won.values() for camera in names]
    assert len(claimed) == len(set(claimed)), won
    holders = {lease.camera: lease.worker for lease in stores[0].leases.leases() if lease.worker}
    assert holders == {camera: worker for worker, names in won.items() for camera in names}
    assert all(len(names) <= 5 for names in won.values())


def test_leases_expire_on_the_database_clock(store_factory: Factory) -> None:
    store = store_factory()
    _register(store, "a")
    store.leases.ensure(["hall"])
    store.leases.claim("a", ["hall"], 1, lease_s=30)
    (lease,) = store.leases.leases(["hall"])
    assert lease.acquired_at is not None and lease.expires_at is not None
    assert lease.expires_at - lease.acquired_at == timedelta(seconds=30)
    assert lease.held_at(lease.acquired_at + timedelta(seconds=29))
    assert not lease.held_at(lease.acquired_at + timedelta(seconds=30))


def test_fall_items_carry_their_epoch_through_the_spool_format() -> None:
    item = replace(fall_items("hall")[0], lease_epoch=7)
    assert WriteItem.from_json(item.to_json()) == item
    legacy = item.to_json()
    del legacy["lease_epoch"]  # spooled by a version before workers shared cameras
    assert WriteItem.from_json(legacy).lease_epoch is None
