"""Sign-in tokens: opaque random strings, of which the store keeps only a keyed hash.

A browser's `fallwatch_session` cookie is `secrets.token_urlsafe` output: it tells nothing about who holds it and
is worth something only while its session is in the store (signing out deletes it). The store keeps an
HMAC-SHA256 of it keyed with FALLWATCH_DASHBOARD_SECRET, so neither a copy of the sessions table nor a row
written into it by someone without the secret makes a working cookie. Without a secret no cookie is made, and
every reload asks to sign in again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "fallwatch_session"
TOKEN_BYTES = 32  # 256 random bits: not guessable, not worth hashing slowly


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def fingerprint(password_hash: str) -> str:
    """What a session remembers of the password it was opened with: a new password ends the session."""
    return hashlib.sha256(password_hash.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenKey:
    secret: str

    def digest(self, token: str) -> str:
        """The keyed hash the store keeps in place of `token` (64 hex digits)."""
        return hmac.new(self.secret.encode(), token.encode(), hashlib.sha256).hexdigest()
