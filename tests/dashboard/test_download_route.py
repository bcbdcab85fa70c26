"""The download route through Starlette's test client on the real store: with sign-ins kept, an offer is served
only with its user's live sign-in cookie, and signing out ends that; without a secret the key alone opens it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from fallwatch.dashboard import context, cookie_route, download_route
from fallwatch.dashboard.downloads import OFFERS, download_path
from fallwatch.dashboard.sessions import Sessions
from fallwatch.dashboard.tokens import COOKIE
from tests.dashboard.browser import SECRET
from tests.dashboard.conftest import CARER, NURSE, Site

CSV = b"id,camera\n1,ward-1\n"


@pytest.fixture
def sessions(site: Site, monkeypatch: pytest.MonkeyPatch) -> Sessions:
    monkeypatch.setenv("FALLWATCH_DASHBOARD_SECRET", SECRET)
    kept = context.shared().sessions
    assert kept is not None
    return kept


def _client() -> TestClient:
    app = Starlette(routes=cookie_route.routes() + download_route.routes())
    return TestClient(app, base_url="http://dashboard.example")


def _signed_in(client: TestClient, sessions: Sessions) -> str:
    """Signs the client in as the nurse, as the page does: the grant traded for the cookie; the token."""
    password_hash = context.shared().users.password_hash(NURSE)
    assert password_hash is not None
    grant = sessions.open(NURSE, password_hash)[1]
    answer = client.post(cookie_route.session_path(), content=grant)
    assert answer.status_code == 204
    token = answer.cookies[COOKIE]
    client.cookies.set(COOKIE, token)
    return token


def test_an_offer_needs_its_users_cookie(sessions: Sessions) -> None:
    mine = download_path(OFFERS.make(NURSE, "incidents.csv", "text/csv", lambda: CSV))
    theirs = download_path(OFFERS.make(CARER, "incidents.csv", "text/csv", lambda: CSV))
    with _client() as client:
        assert client.get(mine).status_code == 403  # no cookie: refused before the key is looked at
        client.cookies.set(COOKIE, "made-up")
        assert client.get(mine).status_code == 403
        _signed_in(client, sessions)
        answer = client.get(mine)
        assert answer.status_code == 200 and answer.content == CSV
        assert answer.headers["content-disposition"] == 'attachment; filename="incidents.csv"'
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-type"].startswith("text/csv")
        assert client.get(theirs).status_code == 404  # another user's offer
        assert client.get(download_path("made-up")).status_code == 404
        client.delete(cookie_route.session_path())  # signing out ends the session of the cookie
        assert client.get(mine).status_code == 403


def test_without_a_secret_the_key_alone_opens_it(site: Site) -> None:
    assert context.shared().sessions is None
    key = OFFERS.make(NURSE, "incidents.csv", "text/csv", lambda: CSV)
    with _client() as client:
        assert client.get(download_path(key)).content == CSV
        OFFERS.withdraw(key)
        assert client.get(download_path(key)).status_code == 404
