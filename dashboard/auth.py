"""Signing in and out of the dashboard, and who is signed in for this browser session.

No page and no media is shown without a signed-in user: the entry script registers only the sign-in page until
there is one, and every page asks `require_user` again. With FALLWATCH_DASHBOARD_SECRET set, a session kept in
the store (dashboard/sessions.py) and an HttpOnly cookie set by the cookie route (dashboard/cookie_route.py) keep
the sign-in across page reloads for `dashboard.session_hours`. Signing out ends that session in the store, so a
copy of the cookie is worth nothing afterwards. Wrong passwords are counted in the store (`Throttle`).
"""

from __future__ import annotations

import json
import logging

import streamlit as st

from fallwatch.dashboard.context import Context
from fallwatch.dashboard.cookie_route import session_path
from fallwatch.dashboard.tokens import COOKIE
from fallwatch.dashboard.users import User

log = logging.getLogger("fallwatch.dashboard")

USER_KEY = "fallwatch_user"
SESSION_KEY = "fallwatch_session_id"  # this browser session's session in the store, when sessions are kept
COOKIE_PENDING_KEY = "fallwatch_cookie_pending"  # a grant to take as the cookie, or "" to drop the cookie


def current_user(ctx: Context) -> User | None:
    """The signed-in user of this session, checked against the directory and the store on every run: a removed
    user, a new password or a sign-out in another tab ends it."""
    name = st.session_state.get(USER_KEY)
    if isinstance(name, str):
        return _still_signed_in(ctx, name)
    return _from_cookie(ctx)


def require_user(ctx: Context) -> User:
    """The signed-in user; stops the page (shows nothing more) when there is none."""
    user = current_user(ctx)
    if user is None:
        st.warning("Please sign in.", icon=":material/lock:")
        st.stop()
    return user


def rerun_unless_signed_in(ctx: Context) -> None:
    """For fragments that refresh on their own: once the session has ended, the whole page runs again (and shows
    the sign-in form) instead of the fragment going on showing incidents and pictures."""
    if current_user(ctx) is None:
        st.rerun(scope="app")


def _still_signed_in(ctx: Context, name: str) -> User | None:
    password_hash = ctx.users.password_hash(name)
    session_id = st.session_state.get(SESSION_KEY)
    if password_hash is None or (
        ctx.sessions is not None
        and not (isinstance(session_id, int) and ctx.sessions.lasts(session_id, name, password_hash))
    ):
        st.session_state.pop(USER_KEY, None)
        st.session_state.pop(SESSION_KEY, None)
        return None
    return User(name)


def _from_cookie(ctx: Context) -> User | None:
    token = st.context.cookies.get(COOKIE)
    if ctx.sessions is None or not token:
        return None
    session = ctx.sessions.holder(token, ctx.users.password_hash)
    if session is None:
        return None
    st.session_state[USER_KEY] = session.user_name
    st.session_state[SESSION_KEY] = session.id
    return User(session.user_name)


def pending_cookie_script() -> str:
    """The script that has the cookie route set the sign-in cookie (after a sign-in) or clear it (after a
    sign-out), as the last one asked; else "". The cookie itself never passes through the page."""
    pending = st.session_state.pop(COOKIE_PENDING_KEY, None)
    if not isinstance(pending, str):
        return ""
    # json.dumps quotes the path and the grant safely for JavaScript.
    request = f"{{method: 'POST', body: {json.dumps(pending)}" if pending else "{method: 'DELETE'"
    options = request + ", credentials: 'same-origin', cache: 'no-store'}"
    return f"<script>fetch({json.dumps(session_path())}, {options});</script>"


def sign_in(ctx: Context, name: str, password: str) -> str | None:
    """Sign this session in; None on success, else what to tell the person."""
    name = name.strip()
    wait = ctx.throttle.locked_for(name)
    if wait > 0:
        log.warning("sign-in refused for %r: too many wrong passwords", name)
        return f"Too many wrong passwords for this user. Try again in {int(wait // 60) + 1} min."
    user = ctx.users.check(name, password)
    if user is None:
        ctx.throttle.failed(name)
        log.warning("sign-in failed for %r", name)
        return "Wrong user name or password."
    ctx.throttle.succeeded(name)
    st.session_state[USER_KEY] = user.name
    password_hash = ctx.users.password_hash(user.name)
    if ctx.sessions is not None and password_hash is not None:
        session, grant = ctx.sessions.open(user.name, password_hash)
        st.session_state[SESSION_KEY] = session.id
        st.session_state[COOKIE_PENDING_KEY] = grant
    log.info("%s signed in", user.name)
    return None


def sign_out(ctx: Context) -> None:
    """End this session here and in the store (every tab and every copy of its cookie with it)."""
    session_id = st.session_state.pop(SESSION_KEY, None)
    name = st.session_state.pop(USER_KEY, None)
    if ctx.sessions is not None:
        if isinstance(session_id, int):
            ctx.sessions.end(session_id)
        st.session_state[COOKIE_PENDING_KEY] = ""
    log.info("%s signed out", name)


def sign_in_page() -> None:
    """The only page shown to someone not signed in."""
    from fallwatch.dashboard import context

    ctx = context.current()
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.space("large")
        st.markdown('<div class="fw-brand">FallWatch</div>', unsafe_allow_html=True)
        st.title("Sign in", anchor=False)
        st.caption("Fall detection for care homes and wards. Sign in to review incidents.")
        if not ctx.users.has_users():
            st.warning(
                "No dashboard users yet. On the server, add one with `fallwatch users add NAME`.",
                icon=":material/person_add:",
            )
        with st.form("sign_in", border=True):
            name = st.text_input("User name", key="sign_in_name", autocomplete="username")
            password = st.text_input(
                "Password", type="password", key="sign_in_password", autocomplete="current-password"
            )
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if submitted:
            problem = sign_in(ctx, name, password)
            if problem is None:
                st.rerun()
            st.error(problem, icon=":material/block:")
        if ctx.sessions is None:
            st.caption("You will be asked to sign in again after reloading the page.")
