"""Sign-in tokens: random, telling nothing about their holder, stored only as a hash keyed with the secret."""

from __future__ import annotations

import base64

from fallwatch.dashboard.tokens import TokenKey, fingerprint, new_token

KEY = TokenKey("k" * 40)


def test_tokens_are_random_and_say_nothing_about_who_holds_them() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) >= 43 for t in tokens)
    assert all(
        "." not in t and not t.startswith(base64.urlsafe_b64encode(b"nurse").decode()[:4]) for t in tokens
    )


def test_the_stored_hash_needs_the_secret() -> None:
    token = new_token()
    assert KEY.digest(token) == KEY.digest(token) and len(KEY.digest(token)) == 64
    assert token not in KEY.digest(token)
    assert TokenKey("z" * 40).digest(token) != KEY.digest(token)
    assert KEY.digest(token + "x") != KEY.digest(token)


def test_a_new_password_has_a_new_fingerprint() -> None:
    old = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
    assert fingerprint(old) == fingerprint(old) and fingerprint(old + "x") != fingerprint(old)
    assert old not in fingerprint(old)
