"""The incident writer: gets engine events into the store off the analysis loop, even while the database is down.

Every accepted event is first written to a spool directory (one small JSON file each, fsync'ed and renamed into
place), then applied to the store by a background thread and only then deleted. While the database is down the
files wait and the thread retries with backoff; when it returns they are written in order. A process that dies
meanwhile finds them again on its next start. Writes are idempotent (each item has a uid), so a file applied just
before a crash and applied again after it changes nothing.

The spool is bounded (`store.spool_max_items`): past it `submit` raises, loudly, rather than drop anything it
already accepted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fallwatch.alerts.records import WriteItem
from fallwatch.alerts.store import LeaseFenced, Store, StoreUnavailable
from fallwatch.core.errors import FallWatchError

log = logging.getLogger("fallwatch.writer")


class Spool:
    """Accepted items on disk, in order, until the store has them."""

    def __init__(self, directory: Path, max_items: int):
        self.directory = directory
        self.failed_dir = directory / "failed"
        self._max_items = max_items
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        existing = self.pending()
        self._next = int(existing[-1].name.split("-", 1)[0]) + 1 if existing else 1

    def pending(self) -> list[Path]:
        return sorted(self.directory.glob("[0-9]*-*.json"))

    def put(self, item: WriteItem) -> Path:
        data = json.dumps(item.to_json(), separators=(",", ":")).encode("utf-8")
        with self._lock:
            if len(self.pending()) >= self._max_items:
                raise FallWatchError(
                    f"incident spool {self.directory} is full ({self._max_items} items waiting for the database); "
                    "bring the database back or raise store.spool_max_items"
                )
            path = self.directory / f"{self._next:012d}-{item.uid}.json"
            self._next += 1
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before we say "accepted"
        os.replace(temporary, path)
        return path

    @staticmethod
    def read(path: Path) -> WriteItem:
        return WriteItem.from_json(json.loads(path.read_text(encoding="utf-8")))

    @staticmethod
    def done(path: Path) -> None:
        path.unlink(missing_ok=True)

    def quarantine(self, path: Path, reason: str) -> None:
        """Keep an item the store refuses (a bug, not an outage) where a person can look at it."""
        self.failed_dir.mkdir(exist_ok=True)
        os.replace(path, self.failed_dir / path.name)
        (self.failed_dir / f"{path.name}.error.txt").write_text(reason + "\n", encoding="utf-8")


class IncidentWriter:
    """A thread that moves spooled items into the store. `connect` opens the store; it may fail while down."""

    def __init__(
        self,
        connect: Callable[[], Store],
        spool: Spool,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
    ):
        self._connect = connect
        self._spool = spool
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self._store: Store | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name="incident-writer", daemon=True)
        self.last_error: str | None = None

    def start(self) -> IncidentWriter:
        self._thread.start()
        return self

    def submit(self, item: WriteItem) -> None:
        """Accept one item: on disk when this returns, in the store as soon as it can be."""
        self._spool.put(item)
        self._idle.clear()
        self._wake.set()

    @property
    def backlog(self) -> int:
        return len(self._spool.pending())

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything accepted is in the store; False if that did not happen in time."""
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        while self.backlog and time.monotonic() < deadline:
            self._idle.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return self.backlog == 0

    def stop(self, timeout_s: float = 10.0) -> bool:
        """Write what can be written within `timeout_s`, then stop; what is left stays spooled for next time."""
        flushed = self.flush(timeout_s)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5.0)
        if self._store is not None:
            self._store.close()
        return flushed

    def _run(self) -> None:
        delay = self._retry_initial_s
        while not self._stop.is_set():
            try:
                self._wake.clear()  # before draining: an item submitted meanwhile wakes the next wait at once
                self._drain()
                delay = self._retry_initial_s
                self.last_error = None
                self._idle.set()
                self._wake.wait(1.0)
            except StoreUnavailable as exc:
                if self.last_error is None:
                    log.warning("%s; %d incident events kept on disk until it is back", exc, self.backlog)
                self.last_error = str(exc)
                self._stop.wait(delay)  # not woken by new items: they wait with the others
                delay = min(self._retry_max_s, delay * 2)
            except Exception as exc:  # e.g. a schema upgrade refused: keep everything spooled and keep trying
                log.exception("incident writer cannot write; %d events kept on disk", self.backlog)
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._stop.wait(self._retry_max_s)

    def _drain(self) -> None:
        if self._store is None:
            self._store = self._connect()
        for path in self._spool.pending():
            if self._stop.is_set():
                return  # what is left stays spooled for the next start
            try:
                item = self._spool.read(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._spool.quarantine(path, f"unreadable: {exc}")
                continue
            try:
                self._store.incidents.apply(item)
            except StoreUnavailable:
                raise
            except (
                LeaseFenced
            ) as exc:  # another worker analyses this camera now: its events are the ones kept
                log.warning(
                    "incident event %s not written: %s; kept in %s", item.uid, exc, self._spool.failed_dir
                )
                self._spool.quarantine(path, f"fenced: {exc}")
                continue
            except Exception as exc:  # a refused write is a bug to look at, not a reason to stop writing
                log.exception(
                    "incident event %s refused by the store; kept in %s", item.uid, self._spool.failed_dir
                )
                self._spool.quarantine(path, f"{type(exc).__name__}: {exc}")
                continue
            self._spool.done(path)
