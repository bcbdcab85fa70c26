"""The one interface every notification channel speaks (as Frigate's communicators do): send one outbox message,
say whether it can send now, close.

A try ends in a `SendResult`, which the notifier turns into delivered, retried later, or failed for good.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from fallwatch.alerts.records import OutboxEntry


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    permanent: bool = False  # refused for good: retrying cannot help (e.g. HTTP 404)
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None  # the receiver asked for at least this long a wait


def failed(error: str, *, permanent: bool = False, status_code: int | None = None) -> SendResult:
    return SendResult(ok=False, permanent=permanent, status_code=status_code, error=error)


class Channel(ABC):
    """A way of telling people: signed webhooks, MQTT. `schemes` are the target URL schemes it serves."""

    schemes: tuple[str, ...] = ()

    @abstractmethod
    def send(self, entry: OutboxEntry) -> SendResult:
        """One try at delivering one message to `entry.target`."""

    def ready(self) -> bool:
        """False while the channel can send nothing at all (e.g. webhooks without their signing secret)."""
        return True

    def close(self) -> None:  # noqa: B027 - most channels hold nothing to release
        """Release connections; the channel is not used afterwards."""
