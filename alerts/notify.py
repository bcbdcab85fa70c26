"""The notifier: delivers the outbox, at least once, in order per incident and receiver.

Each round it gives up messages past their expiry, claims the due ones for a lease, sends each (signed webhook or
MQTT) and records the try. A failed try is retried after an exponential backoff with jitter, until delivered or
expired; a permanent refusal (a 4xx other than 408 and 429) is recorded and not retried. A notifier killed
mid-delivery leaves its claims to run out after `lease_s`; whoever runs next sends them again, with the same
delivery id, so receivers can drop the copy.

Run it next to the pipeline (any number of them may share one database):

    python -m fallwatch.alerts.notify --db postgresql+psycopg://fallwatch@db/fallwatch
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

from fallwatch.alerts.delivery import SendResult, failed
from fallwatch.alerts.mqtt import MqttSender
from fallwatch.alerts.records import DeliveryAttempt, DeliveryStatus, OutboxEntry, utcnow
from fallwatch.alerts.store import Store, StoreUnavailable, open_store, resolve_url
from fallwatch.alerts.webhook import WebhookSender
from fallwatch.core.config import WEBHOOK_SECRET_ENV, NotifyConfig, load_settings, webhook_secret
from fallwatch.core.errors import FallWatchError

log = logging.getLogger("fallwatch.notify")


def backoff_s(attempts: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Wait before try number `attempts + 1`: doubling from `initial_s`, capped, with "equal jitter".

    Half the wait is fixed and half random, so many messages failing together do not all come back together.
    """
    base = min(max_s, initial_s * 2.0 ** max(0, attempts - 1))
    return base / 2.0 + rng.uniform(0.0, base / 2.0)


def camera_state(store: Store, camera: str) -> str:
    """The retained state of a camera: its incidents still being followed, worst first."""
    active = [
        i for i in store.incidents(camera=camera, active=True, limit=50) if i.status.value != "false_alarm"
    ]
    active.sort(key=lambda i: (i.severity.value != "critical", -i.id))
    body = {
        "camera": camera,
        "alarm": bool(active),
        "severity": active[0].severity.value if active else None,
        "incidents": [
            {
                "incident_id": i.id,
                "kind": i.kind.value,
                "severity": i.severity.value,
                "status": i.status.value,
            }
            for i in active
        ],
        "updated_at": utcnow().isoformat(),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


class Notifier:
    def __init__(
        self,
        store: Store,
        config: NotifyConfig,
        secret: str | None,
        owner: str | None = None,
        rng: random.Random | None = None,
    ):
        self._store = store
        self._config = config
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._rng = rng or random.Random()
        timeouts = {hook.url: hook.timeout_s for hook in config.webhooks}
        self._webhooks = WebhookSender(secret, timeouts)
        self._mqtt = MqttSender(
            lambda camera: camera_state(store, camera), qos=config.mqtt.qos, timeout_s=config.mqtt.timeout_s
        )

    def close(self) -> None:
        self._webhooks.close()
        self._mqtt.close()

    def run_once(self) -> int:
        """One round: expire, claim, send, record. Returns how many messages were tried."""
        self._store.expire_due(utcnow())
        entries = self._store.claim_due(utcnow(), self.owner, self._config.lease_s, self._config.batch)
        for entry in entries:
            self._deliver(entry)
        return len(entries)

    def run(self, stop: threading.Event) -> None:
        """Deliver until `stop` is set; a database that is down is waited for, never fatal."""
        while not stop.is_set():
            try:
                busy = self.run_once() > 0
            except StoreUnavailable as exc:
                log.warning("%s; retrying", exc)
                busy = False
            if not busy:
                stop.wait(self._config.poll_s)

    def _deliver(self, entry: OutboxEntry) -> None:
        started = time.monotonic()
        result = self._send(entry)
        attempt = DeliveryAttempt(
            at=utcnow(),
            ok=result.ok,
            status_code=result.status_code,
            error=result.error,
            duration_ms=(time.monotonic() - started) * 1000.0,
        )
        status, next_at = self._consequence(entry, result, attempt.at)
        self._store.record_delivery(entry.id, attempt, status, next_at)
        level = logging.INFO if result.ok else logging.WARNING
        log.log(level, "%s %s to %s: %s", entry.event, entry.delivery_id, entry.destination, status.value)

    def _send(self, entry: OutboxEntry) -> SendResult:
        try:
            if entry.target.startswith(("http://", "https://")):
                return self._webhooks.send(entry)
            if entry.target.startswith("mqtt://"):
                return self._mqtt.send(entry)
        except Exception as exc:  # a sender bug must not stop delivery of everything else; it is recorded
            log.exception("sending %s failed unexpectedly", entry.delivery_id)
            return failed(f"{type(exc).__name__}: {exc}")
        return failed(f"unsupported receiver {entry.target}", permanent=True)

    def _consequence(
        self, entry: OutboxEntry, result: SendResult, at: datetime
    ) -> tuple[DeliveryStatus, datetime | None]:
        if result.ok:
            return DeliveryStatus.DELIVERED, None
        if result.permanent:
            return DeliveryStatus.FAILED, None
        delay = backoff_s(
            entry.attempts + 1, self._config.backoff_initial_s, self._config.backoff_max_s, self._rng
        )
        delay = max(delay, min(result.retry_after_s or 0.0, self._config.backoff_max_s))
        return DeliveryStatus.PENDING, at + timedelta(seconds=delay)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fallwatch.alerts.notify",
        description="Deliver FallWatch's queued incident messages (webhooks, MQTT) until stopped.",
    )
    parser.add_argument(
        "--db", metavar="URL", help="database URL (default: store.url, else <data_dir>/fallwatch.db)"
    )
    parser.add_argument("--config", type=Path, metavar="PATH", help="FallWatch YAML configuration")
    parser.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("alembic", "httpx"):  # one line per schema check and per request: our own lines say more
        logging.getLogger(chatty).setLevel(logging.WARNING)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        return _serve(args, stop)
    except FallWatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    settings = load_settings(args.config)
    url = resolve_url(args.db, settings.store.url, data_dir=settings.data_dir)
    secret = webhook_secret()
    if secret is None:
        log.warning("%s is not set: webhook messages wait (pending) until it is", WEBHOOK_SECRET_ENV)
    store = _open_when_up(url, settings.store.connect_timeout_s, settings.store.retry_max_s, stop)
    if store is None:
        return 0
    notifier = Notifier(store, settings.notify, secret)
    log.info("delivering from %s as %s", store.url, notifier.owner)
    try:
        if args.once:
            while notifier.run_once() > 0:
                pass
        else:
            notifier.run(stop)
    finally:
        notifier.close()
        store.close()
    return 0


def _open_when_up(url: str, timeout_s: float, retry_max_s: float, stop: threading.Event) -> Store | None:
    """Open the store, waiting out a database that is not up yet (a notifier starting before it is normal)."""
    wait = 0.5
    while not stop.is_set():
        try:
            return open_store(url, connect_timeout_s=timeout_s)
        except StoreUnavailable as exc:
            log.warning("%s; retrying in %.1f s", exc, wait)
            stop.wait(wait)
            wait = min(retry_max_s, wait * 2)
    return None


if __name__ == "__main__":
    raise SystemExit(main())
