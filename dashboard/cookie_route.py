"""The cookie route beside Streamlit's: it sets and clears the sign-in cookie.

A cookie written by a script on the page can never be HttpOnly, and Streamlit answers the page over a WebSocket,
which cannot set cookies. So after a sign-in the page's script posts the session's one-time grant here, and the
answer sets the token as the cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page sends
it), Secure when the request came over https, for the rest of the session. DELETE, sent on signing out, ends the
session of the cookie it comes with and clears the cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from streamlit import config

from fallwatch.core.errors import FallWatchError
from fallwatch.dashboard import context
from fallwatch.dashboard.sessions import Sessions
from fallwatch.dashboard.tokens import COOKIE

ROUTE = "fallwatch/session"
MAX_GRANT = 200  # characters; a grant is 43


def session_path() -> str:
    """The route's path, under Streamlit's server.baseUrlPath if one is set."""
    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/{ROUTE}" if base else f"/{ROUTE}"


def _over_https(request: Request) -> bool:
    # uvicorn reports https for its own TLS, and for a proxy on loopback that sends X-Forwarded-Proto.
    return request.url.scheme == "https"


async def _sessions() -> Sessions | None:
    """The dashboard's sessions (None without a secret); FallWatchError when the store cannot be opened."""
    return (await run_in_threadpool(context.shared)).sessions


def _answer(status: int) -> Response:
    return Response(status_code=status, headers={"Cache-Control": "no-store"})


async def _take(request: Request) -> Response:
    """Trade a grant (the request's body) for the session cookie; 403 for a grant that is not live."""
    grant = (await request.body()).decode("ascii", errors="replace").strip()[:MAX_GRANT]
    try:
        sessions = await _sessions()
    except FallWatchError:
        return _answer(503)
    claimed = await run_in_threadpool(sessions.claim, grant) if sessions is not None and grant else None
    if claimed is None:
        return _answer(403)
    session, token = claimed
    remaining_s = int((session.expires_at - datetime.now(UTC)).total_seconds())
    response = _answer(204)
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(0, remaining_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=_over_https(request),
    )
    return response


async def _drop(request: Request) -> Response:
    """End the cookie's session (when there is one) and clear the cookie."""
    token = request.cookies.get(COOKIE)
    try:
        sessions = await _sessions()
    except FallWatchError:
        return _answer(503)
    if token and sessions is not None:
        await run_in_threadpool(sessions.end_token, token)
    response = _answer(204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_over_https(request))
    return response


def routes() -> list[BaseRoute]:
    path = session_path()
    return [Route(path, _take, methods=["POST"]), Route(path, _drop, methods=["DELETE"])]
