"""Signed webhooks to a real HTTP receiver on loopback that fails in every way a receiver can."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fallwatch.alerts.notifiers.messages import Destination, Routing
from fallwatch.alerts.notifiers.notifier import Notifier, backoff_s
from fallwatch.alerts.notifiers.signing import signature_header, verify
from fallwatch.alerts.records import DeliveryStatus
from fallwatch.alerts.store import Store, open_store
from fallwatch.core.config import NotifyConfig, WebhookConfig
from tests.alerts.conftest import fall_items
from tests.alerts.receiver import Receiver, Request

SECRET = "s3cret-for-tests-only"
REPO = Path(__file__).resolve().parents[2]


def fast_config(url: str, timeout_s: float = 2.0, **extra: float) -> NotifyConfig:
    return NotifyConfig(
        webhooks=[WebhookConfig(name="ops", url=url, timeout_s=timeout_s)],
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
        poll_s=0.05,
        lease_s=extra.pop("lease_s", 10.0),
        **extra,
    )


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


def pending(store: Store) -> int:
    return len(store.outbox.entries(status=DeliveryStatus.PENDING))


def test_signature_verifies_only_the_exact_body_secret_and_recent_time() -> None:
    body = b'{"incident_id":1}'
    header = signature_header(SECRET, body, timestamp=1_700_000_000)
    assert verify(SECRET, header, body, now=1_700_000_010)
    assert not verify(SECRET, header, body + b" ", now=1_700_000_010)
    assert not verify("other", header, body, now=1_700_000_010)
    assert not verify(SECRET, header, body, now=1_700_001_000)  # too old: a replay
    assert not verify(SECRET, "v1=abc", body)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(7)
    waits = [backoff_s(n, 1.0, 30.0, rng) for n in range(1, 8)]
    for n, wait in enumerate(waits, start=1):
        base = min(30.0, 2.0 ** (n - 1))
        assert base / 2 <= wait <= base
    assert len({round(w, 6) for w in waits}) == len(waits)


def test_every_incident_arrives_once_through_503s_refused_connections_and_a_timeout(tmp_path: Path) -> None:
    started = time.monotonic()
    phase = {"name": "503"}
    slowed: set[str] = set()

    def policy(request: Request) -> int:
        if phase["name"] == "503":
            return 503
        if not slowed:
            slowed.add(request.delivery_id)
            time.sleep(0.8)  # applied, but answered after the sender's 0.5 s timeout: it will come again
        return 200

    receiver = Receiver(SECRET, policy).start()
    config = fast_config(receiver.url, timeout_s=0.5)
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}", Routing.from_config(config))
    items = fall_items("hall") + fall_items("kitchen") + fall_items("garden")
    for item in items:
        store.incidents.apply(item)
    everything = {e.delivery_id for e in store.outbox.entries()}
    assert len(everything) == len(items) == 12

    notifier = Notifier(store, config, SECRET)
    stop = threading.Event()
    worker = threading.Thread(target=notifier.run, args=(stop,))
    worker.start()
    try:
        wait_for(lambda: receiver.answers.count(503) >= 3, 10, "the receiver to refuse with 503")
        receiver.stop()  # now connections are refused
        refused_from = time.monotonic()
        time.sleep(0.6)
        phase["name"] = "ok"
        receiver.start()  # back, on the same port
        wait_for(lambda: pending(store) == 0, 30, "every message to be delivered")
    finally:
        stop.set()
        worker.join(10)
        notifier.close()
        receiver.stop()

    assert set(receiver.applied) == everything  # none lost
    assert receiver.duplicates >= 1  # the timed-out one came twice ...
    assert len(receiver.applied) == len(everything)  # ... and was applied once
    assert receiver.bad_signatures == 0
    for camera in ("hall", "kitchen", "garden"):
        sequences = [b["sequence"] for b in receiver.applied.values() if b["camera"] == camera]
        assert sequences == [1, 2, 3, 4], camera  # in order per incident
    errors = [a.error or "" for e in store.outbox.entries() for a in store.outbox.attempts(e.id)]
    assert any("503" in e for e in errors) and any("ConnectError" in e for e in errors)
    assert all(
        e.status is DeliveryStatus.DELIVERED and e.delivered_at is not None for e in store.outbox.entries()
    )
    assert refused_from - started < 30
    store.close()


def test_a_4xx_is_permanent_and_recorded_but_408_and_429_are_retried(tmp_path: Path) -> None:
    def policy(request: Request) -> int:
        sequence = request.body["sequence"]
        if sequence == 1:
            return 404
        if sequence == 2 and request.arrival == 1:
            return 429
        if sequence == 3 and request.arrival == 1:
            return 408
        return 204

    receiver = Receiver(SECRET, policy).start()
    config = fast_config(receiver.url)
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}", Routing.from_config(config))
    for item in fall_items():
        store.incidents.apply(item)
    notifier = Notifier(store, config, SECRET)
    try:
        wait_for(lambda: notifier.run_once() == 0 and pending(store) == 0, 15, "the queue to drain")
    finally:
        notifier.close()
        receiver.stop()
    entries = store.outbox.entries()
    assert [e.status for e in entries] == [
        DeliveryStatus.FAILED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DELIVERED,
    ]
    assert entries[0].attempts == 1 and entries[0].last_error == "HTTP 404 Not Found"
    assert [a.status_code for a in store.outbox.attempts(entries[1].id)] == [429, 204]
    assert [a.status_code for a in store.outbox.attempts(entries[2].id)] == [408, 204]
    store.close()


def test_without_the_secret_nothing_is_sent_unsigned_and_nothing_is_lost(tmp_path: Path) -> None:
    receiver = Receiver(SECRET).start()
    config = fast_config(receiver.url)
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}", Routing.from_config(config))
    store.incidents.apply(fall_items()[0])
    notifier = Notifier(store, config, secret=None)
    try:
        notifier.run_once()
    finally:
        notifier.close()
        receiver.stop()
    [entry] = store.outbox.entries()
    assert entry.status is DeliveryStatus.PENDING and "FALLWATCH_WEBHOOK_SECRET is not set" in (
        entry.last_error or ""
    )
    assert receiver.answers == []
    store.close()


def _start_notifier(db: str, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        FALLWATCH_WEBHOOK_SECRET=SECRET,
        FALLWATCH_DATA_DIR=str(data_dir),
        FALLWATCH_NOTIFY__LEASE_S="1",
        FALLWATCH_NOTIFY__BACKOFF_INITIAL_S="0.05",
        FALLWATCH_NOTIFY__BACKOFF_MAX_S="0.2",
        FALLWATCH_NOTIFY__POLL_S="0.05",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "fallwatch.app.cli", "notify", "--db", db],
        cwd=REPO,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_a_notifier_killed_mid_delivery_is_finished_by_the_next_one(tmp_path: Path) -> None:
    in_flight = threading.Event()
    release = threading.Event()

    def policy(request: Request) -> int:
        if request.body["camera"] == "kitchen" and request.body["sequence"] == 2 and request.arrival == 1:
            in_flight.set()
            release.wait(20)  # hold the request open: the notifier is mid-delivery when it dies
        return 200

    receiver = Receiver(SECRET, policy).start()
    db = f"sqlite:///{tmp_path / 'fw.db'}"
    routing = Routing((Destination("ops", receiver.url),))
    store = open_store(db, routing)
    for item in fall_items("hall") + fall_items("kitchen"):
        store.incidents.apply(item)
    everything = {e.delivery_id for e in store.outbox.entries()}

    log = tmp_path / "notify.log"
    first = _start_notifier(db, tmp_path, log)
    try:
        assert in_flight.wait(30), log.read_text()
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        release.set()
        assert pending(store) > 0  # the kill left work undone
        second = _start_notifier(db, tmp_path, log)
        try:
            wait_for(lambda: pending(store) == 0, 30, "the restarted notifier to deliver the rest")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(10) == 0, log.read_text()
    finally:
        if first.poll() is None:
            first.kill()
        receiver.stop()

    assert set(receiver.applied) == everything
    assert all(e.status is DeliveryStatus.DELIVERED for e in store.outbox.entries())
    killed = [e for e in store.outbox.entries() if receiver.arrivals[e.delivery_id] > 1]
    assert killed, "the message in flight at the kill should have been sent again"
    assert receiver.duplicates == len(killed)  # and the receiver dropped the copies
    store.close()


@pytest.mark.parametrize("url", ["sqlite:////no/such/dir/x.db", "oracle://u@h/db"])
def test_the_notifier_command_reports_a_bad_database_url_on_one_line(url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fallwatch.app.cli", "notify", "--db", url, "--once"],
        cwd=REPO,
        env=dict(os.environ, FALLWATCH_DATA_DIR=str(tmp_path), FALLWATCH_WEBHOOK_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("fallwatch: error:")]
    assert len(error_lines) == 1 and "database URL" in error_lines[0] and "Traceback" not in result.stderr


def test_a_failed_try_is_logged_with_its_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver(SECRET, lambda request: 503 if request.arrival == 1 else 204).start()
    config = fast_config(receiver.url)
    store = open_store(f"sqlite:///{tmp_path / 'fw.db'}", Routing.from_config(config))
    store.incidents.apply(fall_items()[0])
    notifier = Notifier(store, config, SECRET)
    try:
        with caplog.at_level(logging.INFO, logger="fallwatch.notify"):
            wait_for(lambda: notifier.run_once() == 0 and pending(store) == 0, 15, "the queue to drain")
    finally:
        notifier.close()
        receiver.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("\n" not in line for line in warnings)
    assert "pending" in warnings[0] and "HTTP 503 Service Unavailable" in warnings[0], warnings
    store.close()
