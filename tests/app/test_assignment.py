"""Workers sharing cameras through the store's leases: even shares, gradual hand-over, takeover of a dead
worker's cameras, never a camera on two workers (real SQLite and PostgreSQL; the analysis loop is played by the
test, which drains a camera at once when asked to hand it on)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from fallwatch.alerts.store import Store, open_store
from fallwatch.app.assignment import CameraAssignment, fair_share
from fallwatch.core.config import WorkersConfig
from fallwatch.ingest.cameras import Camera

CAMERAS = [f"cam-{i}" for i in range(6)]
LEASE_S = 3.0  # the shortest allowed: the test waits a few leases


def _never_opened() -> Camera:
    raise AssertionError("the test plays the analysis loop: no camera is opened")


class Loop:
    """What the pipeline does with an assignment's changes, without video: drains hand-overs at once."""

    def __init__(self, assignment: CameraAssignment) -> None:
        self.assignment = assignment
        self.running: set[str] = set()
        self.started: list[str] = []
        self.lost: list[str] = []

    def turn(self) -> None:
        changes = self.assignment.changes()
        self.running |= set(changes.started)
        self.started += changes.started
        self.running -= set(changes.lost)
        self.lost += changes.lost
        for camera in changes.handed_on:
            self.running.discard(camera)
            self.assignment.ended(camera)


@pytest.fixture
def workers(db_url: str) -> Iterator[Callable[..., Loop]]:
    made: list[CameraAssignment] = []
    stores: list[Store] = []

    def store_factory() -> Store:  # a store (and connection pool) a worker, as separate processes have
        stores.append(open_store(db_url))
        return stores[-1]

    def make(name: str, max_cameras: int = 0, start: bool = True) -> Loop:
        config = WorkersConfig(name=name, lease_s=LEASE_S, renew_s=0.5, max_cameras=max_cameras)
        assignment = CameraAssignment(
            store_factory(), dict.fromkeys(CAMERAS, _never_opened), config, seed=len(made)
        )
        made.append(assignment)
        if start:
            assignment.start()
        return Loop(assignment)

    yield make
    for assignment in made:
        assignment.stop()
    for store in stores:
        store.close()


def _run(loops: list[Loop], seconds: float, until: Callable[[], bool] = lambda: False) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        for loop in loops:
            loop.turn()
        _assert_exclusive(loops)
        time.sleep(0.05)


def _assert_exclusive(loops: list[Loop]) -> None:
    running = [camera for loop in loops for camera in loop.running]
    assert len(running) == len(set(running)), {loop.assignment.name: sorted(loop.running) for loop in loops}


def _balanced(loops: list[Loop], each: int) -> Callable[[], bool]:
    return lambda: all(len(loop.running) == each for loop in loops)


def test_fair_share() -> None:
    assert [fair_share(6, [0] * n) for n in (1, 2, 3, 4, 6, 7)] == [6, 3, 2, 2, 1, 1]
    assert fair_share(6, []) == 6  # before anyone registered: all of them
    assert fair_share(10, [3, 0], mine=3) == 3  # capped
    assert fair_share(10, [3, 0]) == 7  # the capped worker's rest goes to the other
    assert fair_share(10, [3, 3, 0, 0]) == 3  # at most 3 each (3 + 3 + 2 + 2, say)
    assert fair_share(10, [2, 2], mine=2) == 2  # too few workers: each at its cap


def test_a_lone_worker_takes_every_camera_before_analysis_starts(workers: Callable[..., Loop]) -> None:
    loop = workers("solo")
    loop.turn()
    assert sorted(loop.running) == CAMERAS  # the first round ran in start(), not a renewal later


def test_new_workers_get_cameras_gradually_and_no_camera_is_ever_on_two(workers: Callable[..., Loop]) -> None:
    first = workers("first")
    _run([first], 0.2)
    assert len(first.running) == 6
    second, third = workers("second"), workers("third")
    loops = [first, second, third]
    _run(loops, 20 * LEASE_S, until=_balanced(loops, 2))
    assert [len(loop.running) for loop in loops] == [2, 2, 2]
    assert first.lost == []  # handed on, never taken from it
    assert sorted(second.started + third.started) == sorted(set(CAMERAS) - first.running)


def test_a_dead_workers_cameras_are_taken_by_the_others_within_a_lease(workers: Callable[..., Loop]) -> None:
    loops = [workers("a"), workers("b"), workers("c")]
    _run(loops, 20 * LEASE_S, until=_balanced(loops, 2))
    dead = loops.pop()
    orphans = set(dead.running)
    dead.assignment._stop.set()  # dies: no more renewals, nothing released (as SIGKILL)
    dead.assignment._thread.join(5)
    died = time.monotonic()
    _run(loops, 4 * LEASE_S, until=_balanced(loops, 3))
    taken_after = time.monotonic() - died
    assert sorted(loops[0].running | loops[1].running) == CAMERAS
    assert taken_after < LEASE_S + 3 * 0.5 * 1.2 + 1.0, f"took {taken_after:.1f} s"
    assert not orphans & set(dead.assignment.held()) or dead.assignment.round() is None
    dead.assignment.round()  # had it woken up (SIGSTOP, then SIGCONT): its renewal says the cameras are gone
    dead.turn()
    assert set(dead.lost) == orphans and dead.running == set()


def test_a_camera_with_an_incident_in_progress_is_not_handed_on(workers: Callable[..., Loop]) -> None:
    first = workers("first")
    _run([first], 0.2)
    first.assignment.busy = frozenset(CAMERAS[:5])  # everyone but cam-5 has someone on the floor
    second = workers("second")
    _run([first, second], 8 * LEASE_S, until=lambda: len(second.running) >= 2)
    assert second.running == {"cam-5"}  # only the quiet camera moved
    first.assignment.busy = frozenset()
    _run([first, second], 20 * LEASE_S, until=_balanced([first, second], 3))
    assert len(second.running) == 3


def test_max_cameras_caps_a_worker(workers: Callable[..., Loop]) -> None:
    small = workers("small", max_cameras=2)
    _run([small], 0.2)
    assert len(small.running) == 2
    big = workers("big")
    _run([small, big], 4 * LEASE_S, until=lambda: len(big.running) == 4)
    assert len(big.running) == 4
