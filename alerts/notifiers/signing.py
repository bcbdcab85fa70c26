"""Webhook signatures: `X-FallWatch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.

The timestamp is signed with the body so that a captured request cannot be replayed later than the receiver's
tolerance; receivers also dedupe on `X-FallWatch-Delivery`. Receivers may import `verify` from here or copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-FallWatch-Signature"
EVENT_HEADER = "X-FallWatch-Event"
DELIVERY_HEADER = "X-FallWatch-Delivery"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The hex HMAC-SHA256 of b"<timestamp>." + body under `secret`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign(secret, body, t)}"


def verify(
    secret: str, header: str, body: bytes, now: float | None = None, tolerance_s: float = 300.0
) -> bool:
    """True when `header` signs `body` under `secret` and its timestamp is within `tolerance_s` of `now`."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp)
    # Several v1 values are allowed so that a sender can sign with an old and a new secret while rotating.
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))
