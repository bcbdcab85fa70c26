"""Dashboard sessions and failed sign-ins in the store, on a real SQLite file and real PostgreSQL: a grant is taken
once, a session is found by its token's hash until it ends or runs out, failures outlive the process that saw
them."""

from __future__ import annotations

from datetime import timedelta

from fallwatch.alerts.records import utcnow
from fallwatch.alerts.store import open_store

GRANT, TOKEN, OTHER = "g" * 64, "t" * 64, "o" * 64


def test_a_grant_becomes_a_token_once_and_the_session_is_found_by_it(db_url: str) -> None:
    now = utcnow()
    with open_store(db_url) as store:
        opened = store.sessions.open(
            "nurse", "fp", GRANT, now + timedelta(minutes=1), now + timedelta(hours=8)
        )
        assert store.sessions.find(TOKEN) is None  # not handed to a browser yet
        assert store.sessions.claim(GRANT, TOKEN) is not None
        assert store.sessions.claim(GRANT, OTHER) is None  # a grant works once
    with open_store(db_url) as store:  # another process: the session is in the database
        found = store.sessions.find(TOKEN)
        assert found is not None and found.id == opened.id
        assert (found.user_name, found.password_fingerprint) == ("nurse", "fp")
        assert store.sessions.get(opened.id) == found


def test_an_ended_or_expired_session_is_gone(db_url: str) -> None:
    now = utcnow()
    with open_store(db_url) as store:
        ended = store.sessions.open(
            "nurse", "fp", GRANT, now + timedelta(minutes=1), now + timedelta(hours=1)
        )
        store.sessions.claim(GRANT, TOKEN)
        store.sessions.end(ended.id)
        assert store.sessions.find(TOKEN) is None and store.sessions.get(ended.id) is None
        late = store.sessions.open("carer", "fp", OTHER, now + timedelta(minutes=1), now + timedelta(hours=1))
        assert store.sessions.get(late.id, now=now + timedelta(hours=2)) is None
        assert store.sessions.claim(OTHER, TOKEN, now=now + timedelta(minutes=2)) is None  # grant ran out


def test_ending_every_session_of_a_user_spares_the_others(db_url: str) -> None:
    now, later = utcnow(), utcnow() + timedelta(hours=1)
    with open_store(db_url) as store:
        nurse = store.sessions.open("nurse", "fp", GRANT, later, later)
        carer = store.sessions.open("carer", "fp", OTHER, later, later)
        assert store.sessions.end_all("nurse") == 1
        assert (
            store.sessions.get(nurse.id, now=now) is None
            and store.sessions.get(carer.id, now=now) is not None
        )


def test_failed_sign_ins_are_kept_until_a_success_clears_them(db_url: str) -> None:
    start = utcnow()
    with open_store(db_url) as store:
        for minute in range(3):
            store.sessions.failed_sign_in("carer", start + timedelta(minutes=minute))
        store.sessions.failed_sign_in("nurse", start)
    with open_store(db_url) as store:
        assert store.sessions.failed_sign_ins("carer", since=start + timedelta(seconds=30)) == [
            start + timedelta(minutes=1),
            start + timedelta(minutes=2),
        ]
        store.sessions.clear_failed_sign_ins("carer")
        assert store.sessions.failed_sign_ins("carer", since=start) == []
        assert store.sessions.failed_sign_ins("nurse", since=start) == [start]
