"""Files a page offers for download (the incident CSV, a training export as .zip), served by the download route.

Streamlit's st.download_button hands the bytes to its media file manager, which serves them at a /media/...
address to anyone who has it, without a sign-in, for minutes after the page has moved on; and it builds the
file on every run of the page. An offer here is a random key, made for one signed-in user, that lives for
`LIFETIME_S` at most and until the page offers that file again; the file is built only when the link is
followed. The download route (dashboard/download_route.py) serves it only with the sign-in cookie of the user
it was made for, when sign-ins are kept (FALLWATCH_DASHBOARD_SECRET); without a secret there is no cookie, and
the key alone opens it, as the page's own WebSocket session is the only sign-in there is.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st
from streamlit import config

from fallwatch.dashboard.users import User

LIFETIME_S = 600.0
ROUTE = "fallwatch/download"


@dataclass(frozen=True, slots=True)
class Offer:
    owner: str  # the user name it was made for
    file_name: str
    mime: str
    produce: Callable[[], bytes]
    expires_at: float  # time.monotonic()


class Offers:
    """The live offers of this dashboard process (pages and the route run in its threads)."""

    def __init__(self, lifetime_s: float = LIFETIME_S) -> None:
        self._lifetime_s = lifetime_s
        self._offers: dict[str, Offer] = {}
        self._lock = threading.Lock()

    def make(self, owner: str, file_name: str, mime: str, produce: Callable[[], bytes]) -> str:
        """A new key for the file; expired offers are dropped on the way."""
        key = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._offers = {k: o for k, o in self._offers.items() if o.expires_at > now}
            self._offers[key] = Offer(owner, file_name, mime, produce, now + self._lifetime_s)
        return key

    def withdraw(self, key: str) -> None:
        with self._lock:
            self._offers.pop(key, None)

    def live(self, key: str, owner: str | None) -> Offer | None:
        """The offer of `key` while it lives, if it was made for `owner` (None: for anyone, no sign-in kept)."""
        with self._lock:
            offer = self._offers.get(key)
        if offer is None or offer.expires_at <= time.monotonic():
            return None
        if owner is not None and offer.owner != owner:
            return None
        return offer


OFFERS = Offers()


def download_path(key: str) -> str:
    """The route's address for an offer, under Streamlit's server.baseUrlPath if one is set."""
    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/{ROUTE}/{key}" if base else f"/{ROUTE}/{key}"


def download_link(
    label: str, user: User, file_name: str, mime: str, produce: Callable[[], bytes], *, icon: str, slot: str
) -> None:
    """A button that downloads the file through the route. `slot` names the file on the page: offering it
    again (the next run of the page) withdraws the previous key, so one key per file and browser session lives."""
    state_key = f"fallwatch_download_{slot}"
    previous = st.session_state.get(state_key)
    if isinstance(previous, str):
        OFFERS.withdraw(previous)
    key = OFFERS.make(user.name, file_name, mime, produce)
    st.session_state[state_key] = key
    st.link_button(label, download_path(key), icon=icon)
