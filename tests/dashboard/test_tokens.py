"""Signed sign-in tokens: valid until they run out, for the password they were made with, and not forgeable."""

from __future__ import annotations

from fallwatch.dashboard.tokens import Signer

SIGNER = Signer("k" * 40)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"


def test_a_token_is_valid_for_its_user_until_it_runs_out() -> None:
    token = SIGNER.issue("nurse", HASH, 3600, now=1000.0)
    assert Signer.name_in(token) == "nurse"
    assert SIGNER.valid(token, HASH, now=2000.0)
    assert not SIGNER.valid(token, HASH, now=4601.0)


def test_a_new_password_or_another_secret_ends_it() -> None:
    token = SIGNER.issue("nurse", HASH, 3600, now=1000.0)
    assert not SIGNER.valid(token, HASH + "x", now=1001.0)
    assert not Signer("z" * 40).valid(token, HASH, now=1001.0)


def test_tampered_tokens_are_refused() -> None:
    name, expires, signature = SIGNER.issue("nurse", HASH, 3600, now=1000.0).split(".")
    other = Signer.issue(SIGNER, "admin", HASH, 3600, now=1000.0).split(".")[0]
    assert not SIGNER.valid(f"{other}.{expires}.{signature}", HASH, now=1001.0)  # another name
    assert not SIGNER.valid(f"{name}.{int(expires) + 99999}.{signature}", HASH, now=1001.0)  # longer life
    for junk in ("", "a.b", "nurse..", "!!!.1.2", f"{name}.x.{signature}"):
        assert not SIGNER.valid(junk, HASH, now=1001.0)
