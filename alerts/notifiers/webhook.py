"""Signed webhook delivery with httpx: one POST per outbox message, classified for retry.

2xx is delivered. 408, 429 and 5xx, timeouts and refused connections are retried later; any other 4xx (and a
redirect, which a POST must not follow) is permanent: retrying the same bytes cannot succeed.
"""

from __future__ import annotations

import time

import httpx

from fallwatch.alerts.notifiers.base import Channel, SendResult, failed
from fallwatch.alerts.notifiers.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from fallwatch.alerts.records import OutboxEntry
from fallwatch.core.config import WEBHOOK_SECRET_ENV

RETRIED_4XX = frozenset({408, 429})
USER_AGENT = "FallWatch-Webhook/1"


class WebhookChannel(Channel):
    """Signed JSON POSTs; each configured receiver's timeout applies to its URL."""

    schemes = ("http", "https")

    def __init__(
        self, secret: str | None, timeouts: dict[str, float] | None = None, default_timeout_s: float = 10.0
    ):
        """`timeouts` maps a receiver URL to its configured timeout."""
        self._secret = secret
        self._timeouts = timeouts or {}
        self._default_timeout_s = default_timeout_s
        self._client = httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})

    def ready(self) -> bool:
        return self._secret is not None

    def close(self) -> None:
        self._client.close()

    def send(self, entry: OutboxEntry) -> SendResult:
        if self._secret is None:
            # Kept pending, not failed: the message goes out once the operator sets the secret and restarts.
            return failed(f"{WEBHOOK_SECRET_ENV} is not set; webhooks are only sent signed")
        body = entry.payload.encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: entry.event,
            DELIVERY_HEADER: entry.delivery_id,
            SIGNATURE_HEADER: signature_header(self._secret, body, int(time.time())),
        }
        timeout = self._timeouts.get(entry.target, self._default_timeout_s)
        try:
            response = self._client.post(entry.target, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException:
            return failed(f"no answer within {timeout:g} s")
        except httpx.HTTPError as exc:
            return failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return classify(response)


def classify(response: httpx.Response) -> SendResult:
    code = response.status_code
    if 200 <= code < 300:
        return SendResult(ok=True, status_code=code)
    reason = f"HTTP {code} {response.reason_phrase}".strip()
    if code in RETRIED_4XX or code >= 500:
        return SendResult(ok=False, status_code=code, error=reason, retry_after_s=_retry_after(response))
    if 300 <= code < 400:
        where = response.headers.get("Location", "?")
        return failed(
            f"{reason}: redirected to {where}; configure the final URL", permanent=True, status_code=code
        )
    return failed(reason, permanent=True, status_code=code)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare for webhooks; the backoff alone is fine
