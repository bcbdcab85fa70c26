"""The dispatcher: each message goes to the channel serving its target; what no channel serves fails for good."""

from __future__ import annotations

from datetime import timedelta

from fallwatch.alerts.notifiers.base import Channel, SendResult
from fallwatch.alerts.notifiers.dispatcher import Dispatcher
from fallwatch.alerts.notifiers.webhook import WebhookChannel
from fallwatch.alerts.records import DeliveryStatus, OutboxEntry, utcnow


def entry(target: str) -> OutboxEntry:
    now = utcnow()
    return OutboxEntry(
        id=1, incident_id=1, camera="hall", destination="ops", target=target, event="incident.opened",
        delivery_id="d1", payload="{}", status=DeliveryStatus.PENDING, attempts=0, created_at=now,
        next_attempt_at=now, expires_at=now + timedelta(hours=1), delivered_at=None, last_error=None,
    )  # fmt: skip


class Recording(Channel):
    schemes = ("mqtt",)

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, entry: OutboxEntry) -> SendResult:
        self.sent.append(entry.target)
        return SendResult(ok=True)


class Broken(Channel):
    schemes = ("http",)

    def send(self, entry: OutboxEntry) -> SendResult:
        raise RuntimeError("a bug in the channel")


def test_each_target_goes_to_the_channel_of_its_scheme() -> None:
    mqtt = Recording()
    dispatcher = Dispatcher([mqtt, WebhookChannel(secret="s")])
    assert dispatcher.send(entry("MQTT://127.0.0.1:1883/fw")).ok
    assert mqtt.sent == ["MQTT://127.0.0.1:1883/fw"]
    assert dispatcher.channel(entry("https://example.org/hook")) is dispatcher.channels[1]
    dispatcher.close()


def test_a_target_no_channel_serves_fails_for_good_with_the_reason() -> None:
    result = Dispatcher([Recording()]).send(entry("ftp://example.org/x"))
    assert not result.ok and result.permanent
    assert result.error is not None and "no channel serves ftp://example.org/x" in result.error


def test_a_channel_bug_becomes_a_retried_failure_not_a_crash() -> None:
    result = Dispatcher([Broken()]).send(entry("http://127.0.0.1:9/hook"))
    assert not result.ok and not result.permanent and result.error == "RuntimeError: a bug in the channel"


def test_unsigned_webhooks_cannot_be_sent_from_here_but_mqtt_can() -> None:
    dispatcher = Dispatcher([WebhookChannel(secret=None), Recording()])
    assert not dispatcher.can_send(entry("http://127.0.0.1:9/hook"))
    assert dispatcher.can_send(entry("mqtt://127.0.0.1:1883/fw"))
    assert not dispatcher.can_send(entry("ftp://example.org/x"))
    dispatcher.close()
