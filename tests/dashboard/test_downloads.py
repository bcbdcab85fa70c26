"""Download offers: a random key per file, for one user, that dies when it expires or is offered again."""

from __future__ import annotations

from fallwatch.dashboard.downloads import Offers


def _csv() -> bytes:
    return b"id\n1\n"


def test_an_offer_is_live_for_its_owner_only() -> None:
    offers = Offers()
    key = offers.make("nurse", "incidents.csv", "text/csv", _csv)
    offer = offers.live(key, "nurse")
    assert offer is not None and offer.produce() == b"id\n1\n" and offer.file_name == "incidents.csv"
    assert offers.live(key, "carer") is None
    assert offers.live(key, None) is offer  # no sign-in kept: the key alone
    assert offers.live("made-up", "nurse") is None
    assert key != offers.make("nurse", "incidents.csv", "text/csv", _csv)  # a fresh key each time


def test_a_withdrawn_or_expired_offer_is_gone() -> None:
    offers = Offers()
    key = offers.make("nurse", "incidents.csv", "text/csv", _csv)
    offers.withdraw(key)
    assert offers.live(key, "nurse") is None
    brief = Offers(lifetime_s=0.0)
    assert brief.live(brief.make("nurse", "incidents.csv", "text/csv", _csv), "nurse") is None
