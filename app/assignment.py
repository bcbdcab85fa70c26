"""Which cameras this worker analyses: leases in the store, claimed, renewed, handed on and released.

Every `fallwatch run` is a worker. It registers in the store, then on a thread of its own, every `workers.renew_s`
(with a little jitter so that workers started together do not keep meeting), it

1. renews the leases it holds; one it could not renew was taken over (it had run out): analysis of that camera
   stops and nothing more is written for it,
2. takes free or run-out cameras up to its share (the cameras spread evenly over the live workers, at most
   `workers.max_cameras`): a dead worker's cameras are taken by the others within one lease,
3. hands on one camera a round while it holds more than its share, so that a new worker gets cameras gradually,
   never one with an incident in progress.

The analysis loop reads the outcome through `changes()` and says when a camera it was asked to hand on has been
drained (`ended`); only then is its lease released. On stop every lease is released at once.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from fallwatch.alerts.store import Store, StoreUnavailable
from fallwatch.core.config import WorkersConfig
from fallwatch.core.errors import FallWatchError
from fallwatch.ingest.cameras import Camera, CameraHub

log = logging.getLogger(__name__)

JITTER = 0.2  # each round waits renew_s times 1 +- this


@dataclass(frozen=True, slots=True)
class Changes:
    started: tuple[str, ...] = ()  # claimed: start analysing them
    lost: tuple[str, ...] = ()  # another worker has them now: stop at once, write nothing more for them
    handed_on: tuple[str, ...] = ()  # to pass on: finish them (incidents closed), then call `ended`

    def __bool__(self) -> bool:
        return bool(self.started or self.lost or self.handed_on)


def fair_share(cameras: int, caps: Sequence[int], mine: int = 0) -> int:
    """How many cameras a worker with cap `mine` should hold when the live workers have `caps` (0: no cap):
    the cameras spread as evenly as the caps allow (water-filling), so that a capped worker's rest goes to the
    others."""
    caps = [cap or cameras for cap in caps] or [cameras]
    level = 0
    while level < cameras and sum(min(cap, level) for cap in caps) < cameras:
        level += 1
    return min(mine or cameras, level)


@dataclass
class _Pending:
    started: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    handed_on: list[str] = field(default_factory=list)

    def take(self) -> Changes:
        changes = Changes(tuple(self.started), tuple(self.lost), tuple(self.handed_on))
        self.started, self.lost, self.handed_on = [], [], []
        return changes


class CameraAssignment:
    """This worker's leases. Thread-safe: the keeper thread changes them, the analysis loop reads them."""

    def __init__(
        self,
        store: Store,
        cameras: Mapping[str, Callable[[], Camera]],
        config: WorkersConfig,
        metrics_port: int | None = None,
        files_only: bool = False,
        seed: int | None = None,
    ) -> None:
        """`cameras`: every configured camera by name, each with how to open it when this worker takes it;
        `files_only`: all of them are files, so the worker may end when they are done."""
        self.name = config.resolved_name
        self.cameras = sorted(cameras)
        self.config = config
        self._openers = dict(cameras)
        self._store = store
        self._metrics_port = metrics_port
        self.busy: frozenset[str] = frozenset()  # cameras with an incident in progress (the loop tells): kept
        self._files_only = files_only
        self._checked_taken_at = -math.inf
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}  # camera -> the epoch we took it at
        self._handing_on: set[str] = set()
        self._drained: set[str] = set()
        self._pending = _Pending()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="leases", daemon=True)
        self._unreachable = False

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> CameraAssignment:
        """Register and take a first share of cameras before analysis starts; then keep them on a thread."""
        leases, host = self._store.leases, socket.gethostname()
        leases.register(self.name, host, os.getpid(), self.config.max_cameras,
                        self._metrics_port, self.config.lease_s)  # fmt: skip
        for worker in leases.workers():
            # A worker of this host whose process is gone (killed, crashed) frees its cameras now, not at expiry.
            if worker.host == host and worker.stopped_at is None and not _process_alive(worker.pid):
                log.warning("worker %s (pid %d) is gone: releasing its cameras", worker.name, worker.pid)
                leases.stop(worker.name)
        leases.ensure(self.cameras)
        self.round()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release every lease at once (after the drain: what was accepted is in the spool or the store)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(10)
        try:
            self._store.leases.stop(self.name)
        except StoreUnavailable as exc:
            log.warning("leases not released (%s): other workers take the cameras when they run out", exc)
        with self._lock:
            self._held.clear()

    # --- what the analysis loop asks -------------------------------------------------------------------------------

    def changes(self) -> Changes:
        with self._lock:
            return self._pending.take()

    def epoch(self, camera: str) -> int | None:
        """The epoch this worker holds `camera` at, or None once it is no longer ours."""
        with self._lock:
            return self._held.get(camera)

    def held(self) -> dict[str, int]:
        with self._lock:
            return dict(self._held)

    def ended(self, camera: str) -> None:
        """A camera being handed on has been drained: release it now (the keeper does, at once)."""
        with self._lock:
            if camera in self._handing_on:
                self._drained.add(camera)
        self._wake.set()

    def camera(self, name: str) -> Camera:
        return self._openers[name]()

    def finished(self, hub: CameraHub) -> bool:
        """Whether a worker may end: never while a camera is live; with files only, once none is running here
        and every one is taken (done here, or held by another live worker)."""
        if any(not state.finished for state in hub.states.values()):
            return False
        if not self._files_only or len(hub.cameras) < len(self.held()):
            return False
        now = time.monotonic()
        if now - self._checked_taken_at < 1.0:
            return False
        self._checked_taken_at = now
        try:
            return self.all_taken()
        except StoreUnavailable:
            return False

    def all_taken(self) -> bool:
        """Whether every configured camera is held by some live worker (nothing left for us to claim)."""
        leases = self._store.leases.leases(self.cameras)
        live = {worker.name for worker in self._store.leases.live_workers(self.config.lease_s)}
        return len(leases) == len(self.cameras) and all(lease.worker in live for lease in leases)

    # --- the keeper -----------------------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.config.renew_every_s * self._random.uniform(1 - JITTER, 1 + JITTER)
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.round()
            except StoreUnavailable as exc:
                if not self._unreachable:
                    # Analysis goes on: incidents are spooled, and the store keeps or refuses them by the
                    # takeover time once it is back.
                    log.warning("leases not renewed (%s); still analysing %d cameras", exc, len(self.held()))
                self._unreachable = True
            except FallWatchError as exc:
                log.error("leases: %s", exc)
            except Exception:
                log.exception("leases: unexpected failure; trying again next round")

    def round(self) -> None:
        """One renewal: keep, claim, hand on (see the module's doc)."""
        leases = self._store.leases
        self._release_drained()
        leases.heartbeat(self.name)
        held = self.held()
        kept = leases.renew(self.name, held, self.config.lease_s) if held else {}
        self._unreachable = False
        self._forget(sorted(set(held) - set(kept)))
        caps = [worker.max_cameras for worker in leases.live_workers(self.config.lease_s)]
        share = fair_share(len(self.cameras), caps, self.config.max_cameras)
        with self._lock:
            keeping = len(self._held) - len(self._handing_on)
        if keeping < share:
            free = [camera for camera in self.cameras if camera not in kept]
            self._take(leases.claim(self.name, free, share - keeping, self.config.lease_s))
        elif keeping > share:
            self._hand_on_one()

    def _release_drained(self) -> None:
        with self._lock:
            drained = {camera: self._held[camera] for camera in self._drained if camera in self._held}
            self._drained.clear()
        if not drained:
            return
        self._store.leases.release(self.name, drained)
        with self._lock:
            for camera in drained:
                self._held.pop(camera, None)
                self._handing_on.discard(camera)
        log.info("handed on %s", ", ".join(sorted(drained)))

    def _forget(self, lost: list[str]) -> None:
        if not lost:
            return
        with self._lock:
            for camera in lost:
                self._held.pop(camera, None)
                self._handing_on.discard(camera)
                self._pending.lost.append(camera)
        log.warning("lost the lease of %s to another worker: no longer analysing it", ", ".join(lost))

    def _take(self, won: dict[str, int]) -> None:
        if not won:
            return
        with self._lock:
            self._held.update(won)
            self._pending.started.extend(sorted(won))
        log.info("took %s", ", ".join(f"{camera} (epoch {epoch})" for camera, epoch in sorted(won.items())))

    def _hand_on_one(self) -> None:
        busy = self.busy
        with self._lock:
            if self._handing_on:
                return  # one at a time: the next only when this one has gone
            candidates = sorted(camera for camera in self._held if camera not in busy)
            if not candidates:
                return
            camera = candidates[-1]
            self._handing_on.add(camera)
            self._pending.handed_on.append(camera)
        log.info("handing on %s: holding more than a fair share", camera)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
