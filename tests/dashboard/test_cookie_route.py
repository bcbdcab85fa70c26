"""The cookie route, through Starlette's test client on the real store: a grant is traded once for an HttpOnly,
SameSite=Strict cookie (Secure over https), and DELETE ends the cookie's session."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from fallwatch.dashboard import context
from fallwatch.dashboard.cookie_route import ROUTE, routes
from fallwatch.dashboard.sessions import Sessions
from fallwatch.dashboard.tokens import COOKIE
from tests.dashboard.browser import SECRET
from tests.dashboard.conftest import NURSE, Site

PATH = f"/{ROUTE}"


@pytest.fixture
def sessions(site: Site, monkeypatch: pytest.MonkeyPatch) -> Sessions:
    monkeypatch.setenv("FALLWATCH_DASHBOARD_SECRET", SECRET)
    kept = context.shared().sessions
    assert kept is not None
    return kept


def _grant(sessions: Sessions) -> str:
    password_hash = context.shared().users.password_hash(NURSE)
    assert password_hash is not None
    return sessions.open(NURSE, password_hash)[1]


def _client(scheme: str) -> TestClient:
    return TestClient(Starlette(routes=routes()), base_url=f"{scheme}://dashboard.example")


def _set_cookie(answer_headers: str) -> tuple[str, dict[str, str]]:
    morsel = SimpleCookie(answer_headers)[COOKIE]
    return morsel.value, {key.lower(): str(value) for key, value in morsel.items() if value}


def test_a_grant_is_traded_once_for_an_http_only_strict_secure_cookie(sessions: Sessions) -> None:
    grant = _grant(sessions)
    with _client("https") as client:
        answer = client.post(PATH, content=grant)
        assert answer.status_code == 204 and answer.headers["cache-control"] == "no-store"
        token, flags = _set_cookie(answer.headers["set-cookie"])
        assert flags["httponly"] and flags["secure"] and flags["samesite"].lower() == "strict"
        assert flags["path"] == "/" and 11 * 3600 < int(flags["max-age"]) <= 12 * 3600
        assert client.post(PATH, content=grant).status_code == 403  # a grant works once
        assert client.post(PATH, content="made-up").status_code == 403
    session = sessions.holder(token, context.shared().users.password_hash)
    assert session is not None and session.user_name == NURSE


def test_over_plain_http_the_cookie_is_not_marked_secure(sessions: Sessions) -> None:
    with _client("http") as client:
        answer = client.post(PATH, content=_grant(sessions))
    _, flags = _set_cookie(answer.headers["set-cookie"])
    assert flags["httponly"] and "secure" not in flags


def test_delete_ends_the_session_of_the_cookie_and_clears_it(sessions: Sessions) -> None:
    with _client("http") as client:
        token, _ = _set_cookie(client.post(PATH, content=_grant(sessions)).headers["set-cookie"])
        client.cookies.set(COOKIE, token)
        answer = client.delete(PATH)
    assert answer.status_code == 204
    cleared, flags = _set_cookie(answer.headers["set-cookie"])
    assert cleared == "" and flags["max-age"] == "0"
    assert sessions.holder(token, context.shared().users.password_hash) is None
