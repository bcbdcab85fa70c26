"""The notifier: delivers the outbox, at least once, in order per incident and receiver.

Each round it gives up messages past their expiry, claims the due ones for a lease, sends each (signed webhook or
MQTT) and records the try. A failed try is retried after an exponential backoff with jitter, until delivered or
expired; a permanent refusal (a 4xx other than 408 and 429) is recorded and not retried. A notifier killed
mid-delivery leaves its claims to run out after `lease_s`; whoever runs next sends them again, with the same
delivery id, so receivers can drop the copy.

`fallwatch run` runs one beside the pipeline and `fallwatch notify` runs one on its own; any number of them may
share one database.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from datetime import datetime, timedelta

from fallwatch.alerts.notifiers.base import Channel, SendResult
from fallwatch.alerts.notifiers.dispatcher import Dispatcher
from fallwatch.alerts.notifiers.messages import camera_state
from fallwatch.alerts.notifiers.mqtt import BrokerOptions, MqttChannel
from fallwatch.alerts.notifiers.webhook import WebhookChannel
from fallwatch.alerts.records import DeliveryAttempt, DeliveryStatus, OutboxEntry, utcnow
from fallwatch.alerts.store import Store, StoreUnavailable
from fallwatch.core.config import NotifyConfig, mqtt_password

log = logging.getLogger("fallwatch.notify")


def backoff_s(attempts: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Wait before try number `attempts + 1`: doubling from `initial_s`, capped, with "equal jitter".

    Half the wait is fixed and half random, so many messages failing together do not all come back together.
    """
    base = min(max_s, initial_s * 2.0 ** max(0, attempts - 1))
    return base / 2.0 + rng.uniform(0.0, base / 2.0)


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
        self.dispatcher = Dispatcher(channels(store, config, secret))

    def close(self) -> None:
        self.dispatcher.close()

    def run_once(self) -> int:
        """One round: expire, claim, send, record. Returns how many messages were tried."""
        self._store.outbox.expire_due(utcnow())
        entries = self._store.outbox.claim_due(utcnow(), self.owner, self._config.lease_s, self._config.batch)
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
        result = self.dispatcher.send(entry)
        attempt = DeliveryAttempt(
            at=utcnow(),
            ok=result.ok,
            status_code=result.status_code,
            error=result.error,
            duration_ms=(time.monotonic() - started) * 1000.0,
        )
        status, next_at = self._consequence(entry, result, attempt.at)
        self._store.outbox.record_delivery(entry.id, attempt, status, next_at)
        if result.ok:
            log.info("%s %s to %s: %s", entry.event, entry.delivery_id, entry.destination, status.value)
        else:  # why it failed, on the same line: an operator reading the log should not need the database
            reason = " ".join((result.error or f"HTTP {result.status_code or '?'}").split())
            log.warning("%s %s to %s: %s (%s)", entry.event, entry.delivery_id, entry.destination,
                        status.value, reason)  # fmt: skip

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


def channels(store: Store, config: NotifyConfig, secret: str | None) -> list[Channel]:
    """Every channel a notifier may need: webhooks (signed with `secret`) and MQTT (with each camera's state)."""
    timeouts = {hook.url: hook.timeout_s for hook in config.webhooks}
    mqtt = MqttChannel(
        lambda camera: camera_state(store, camera),
        qos=config.mqtt.qos,
        timeout_s=config.mqtt.timeout_s,
        options=BrokerOptions.from_config(config.mqtt, mqtt_password()),
    )
    return [WebhookChannel(secret, timeouts), mqtt]
