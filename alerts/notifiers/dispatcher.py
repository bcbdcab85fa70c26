"""The dispatcher: hands each outbox message to the channel that serves its target."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from fallwatch.alerts.notifiers.base import Channel, SendResult, failed
from fallwatch.alerts.records import OutboxEntry

log = logging.getLogger("fallwatch.notify")


class Dispatcher:
    def __init__(self, channels: Sequence[Channel]):
        self.channels = tuple(channels)
        self._by_scheme = {scheme: channel for channel in channels for scheme in channel.schemes}

    def channel(self, entry: OutboxEntry) -> Channel | None:
        return self._by_scheme.get(urlsplit(entry.target).scheme.lower())

    def send(self, entry: OutboxEntry) -> SendResult:
        channel = self.channel(entry)
        if channel is None:
            return failed(
                f"no channel serves {entry.target} (expected http(s):// or mqtt://)", permanent=True
            )
        try:
            return channel.send(entry)
        except Exception as exc:  # a channel's bug must not stop delivery of everything else; it is recorded
            log.exception("sending %s failed unexpectedly", entry.delivery_id)
            return failed(f"{type(exc).__name__}: {exc}")

    def can_send(self, entry: OutboxEntry) -> bool:
        """Whether trying `entry` now can succeed at all (waiting for it is worthwhile)."""
        channel = self.channel(entry)
        return channel is not None and channel.ready()

    def close(self) -> None:
        for channel in self.channels:
            channel.close()
