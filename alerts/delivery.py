"""The result of one try at delivering one message, shared by the webhook and MQTT senders."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    permanent: bool = False  # refused for good: retrying cannot help (e.g. HTTP 404)
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None  # the receiver asked for at least this long a wait


def failed(error: str, *, permanent: bool = False, status_code: int | None = None) -> SendResult:
    return SendResult(ok=False, permanent=permanent, status_code=status_code, error=error)
