"""Signed sign-in tokens, so that a page reload does not sign a night-shift operator out.

A token names the user and when it runs out, signed (HMAC-SHA256) with FALLWATCH_DASHBOARD_SECRET. The signature
also covers a fingerprint of the user's current password hash, so changing a password or removing the user ends
every session made with the old one. Without a secret no token is made, and every reload asks to sign in again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

COOKIE = "fallwatch_session"


@dataclass(frozen=True, slots=True)
class Signer:
    secret: str

    def _signature(self, name: str, expires: int, password_hash: str) -> str:
        fingerprint = hashlib.sha256(password_hash.encode()).hexdigest()
        message = f"{name}\n{expires}\n{fingerprint}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()

    def issue(self, name: str, password_hash: str, lifetime_s: float, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + lifetime_s)
        encoded = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        return f"{encoded}.{expires}.{self._signature(name, expires, password_hash)}"

    @staticmethod
    def name_in(token: str) -> str | None:
        """The user a token claims to be (not yet checked), or None if it is not a token at all."""
        try:
            encoded = token.split(".")[0]
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def valid(self, token: str, password_hash: str, now: float | None = None) -> bool:
        """Whether `token` was signed by us for the holder of `password_hash` and has not run out."""
        parts = token.split(".")
        name = self.name_in(token)
        if len(parts) != 3 or name is None or not parts[1].isdigit():
            return False
        expires = int(parts[1])
        if expires < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(parts[2], self._signature(name, expires, password_hash))
