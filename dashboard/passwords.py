"""Password hashes for dashboard users: argon2id, so a stolen configuration or database gives away no password.

Used by `fallwatch users` (to make hashes) and by the sign-in form (to check them); never imports Streamlit.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from fallwatch.core.errors import FallWatchError

MIN_LENGTH = 8
_HASHER = PasswordHasher()  # argon2id with the library's defaults (RFC 9106 low-memory profile)
# Checked when a user name is unknown, so that a wrong name takes as long as a wrong password and the time a
# sign-in takes does not tell which names exist.
_DECOY = _HASHER.hash("fallwatch decoy password")


def hash_password(password: str) -> str:
    """An argon2id hash (a PHC string, $argon2id$...) of a password of at least MIN_LENGTH characters."""
    if len(password) < MIN_LENGTH:
        raise FallWatchError(f"password too short: use at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`; a missing or malformed hash never matches."""
    try:
        return _HASHER.verify(password_hash or _DECOY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
