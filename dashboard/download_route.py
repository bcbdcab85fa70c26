"""The download route: GET <base>/fallwatch/download/<key> answers a page's offer (dashboard/downloads.py).

With sign-ins kept (FALLWATCH_DASHBOARD_SECRET), a request without the sign-in cookie of a live session is
refused (403) before any key is looked at, and an offer is served only to the user it was made for; a key that
is unknown, expired, withdrawn or someone else's is 404.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fallwatch.core.errors import FallWatchError
from fallwatch.dashboard import context
from fallwatch.dashboard.context import Context
from fallwatch.dashboard.downloads import OFFERS, download_path
from fallwatch.dashboard.tokens import COOKIE

NO_STORE = {"Cache-Control": "no-store"}


def _signed_in_user(ctx: Context, token: str | None) -> str | None:
    if ctx.sessions is None or not token:
        return None
    session = ctx.sessions.holder(token, ctx.users.password_hash)
    return None if session is None else session.user_name


async def _serve(request: Request) -> Response:
    try:
        ctx = await run_in_threadpool(context.shared)
    except FallWatchError:
        return Response(status_code=503, headers=NO_STORE)
    owner = None
    if ctx.sessions is not None:
        owner = await run_in_threadpool(_signed_in_user, ctx, request.cookies.get(COOKIE))
        if owner is None:
            return Response(status_code=403, headers=NO_STORE)
    offer = OFFERS.live(request.path_params["key"], owner)
    if offer is None:
        return Response(status_code=404, headers=NO_STORE)
    payload = await run_in_threadpool(offer.produce)
    disposition = f'attachment; filename="{offer.file_name}"'
    return Response(payload, media_type=offer.mime, headers=NO_STORE | {"Content-Disposition": disposition})


def routes() -> list[BaseRoute]:
    return [Route(download_path("{key}"), _serve, methods=["GET"])]
