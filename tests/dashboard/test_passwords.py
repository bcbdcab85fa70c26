"""Password hashes: argon2id, checked in constant work, never stored or configured as plain text."""

from __future__ import annotations

import pytest

from fallwatch.core.config import load_settings
from fallwatch.core.errors import FallWatchError
from fallwatch.dashboard.passwords import hash_password, verify_password


def test_a_hash_checks_its_password_only() -> None:
    password_hash = hash_password("correct horse battery")
    assert password_hash.startswith("$argon2id$")
    assert verify_password(password_hash, "correct horse battery")
    assert not verify_password(password_hash, "correct horse battery!")
    assert not verify_password(None, "correct horse battery")
    assert not verify_password("not a hash", "correct horse battery")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(FallWatchError, match="at least 8 characters"):
        hash_password("short")


def test_the_settings_refuse_a_password_in_place_of_a_hash() -> None:
    with pytest.raises(FallWatchError, match="expected an argon2 password hash") as caught:
        load_settings(dashboard={"users": {"nurse": "night-shift-2025"}})
    assert "night-shift-2025" not in str(caught.value)  # the mistake is not echoed to logs
    settings = load_settings(dashboard={"users": {"nurse": hash_password("night-shift-2025")}})
    assert verify_password(settings.dashboard.users["nurse"], "night-shift-2025")
