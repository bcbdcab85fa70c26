"""Signing in and out of the dashboard, and who is signed in for this browser session.

No page and no media is shown without a signed-in user: the entry script registers only the sign-in page until
there is one, and every page asks `require_user` again. With FALLWATCH_DASHBOARD_SECRET set, a signed cookie
keeps the sign-in across page reloads for `dashboard.session_hours`.
"""

from __future__ import annotations

import json
import logging

import streamlit as st

from fallwatch.dashboard.context import Context
from fallwatch.dashboard.tokens import COOKIE
from fallwatch.dashboard.users import User

log = logging.getLogger("fallwatch.dashboard")

USER_KEY = "fallwatch_user"
SIGNED_OUT_KEY = "fallwatch_signed_out"  # ignore the cookie this session was opened with
COOKIE_PENDING_KEY = "fallwatch_cookie_pending"  # a cookie to set (or "" to clear) on the next page shown


def current_user(ctx: Context) -> User | None:
    """The signed-in user of this session, checked against the directory on every run (a removed user is out)."""
    name = st.session_state.get(USER_KEY)
    if isinstance(name, str):
        if ctx.users.password_hash(name) is not None:
            return User(name)
        del st.session_state[USER_KEY]
        return None
    return _from_cookie(ctx)


def require_user(ctx: Context) -> User:
    """The signed-in user; stops the page (shows nothing more) when there is none."""
    user = current_user(ctx)
    if user is None:
        st.warning("Please sign in.", icon=":material/lock:")
        st.stop()
    return user


def _from_cookie(ctx: Context) -> User | None:
    if ctx.signer is None or st.session_state.get(SIGNED_OUT_KEY):
        return None
    token = st.context.cookies.get(COOKIE)
    name = ctx.signer.name_in(token) if token else None
    password_hash = ctx.users.password_hash(name) if name else None
    if token is None or name is None or password_hash is None or not ctx.signer.valid(token, password_hash):
        return None
    st.session_state[USER_KEY] = name
    return User(name)


def _cookie_script(value: str, max_age_s: int) -> str:
    # json.dumps quotes the value safely for JavaScript; tokens hold only [A-Za-z0-9_.-] anyway.
    cookie = json.dumps(f"{COOKIE}={value}; path=/; max-age={max_age_s}; SameSite=Strict")
    return (
        f"<script>document.cookie = {cookie} + (location.protocol === 'https:' ? '; Secure' : '');</script>"
    )


def pending_cookie_script() -> str:
    """The script that sets or clears the sign-in cookie, as the last sign-in or sign-out asked; else ""."""
    pending = st.session_state.pop(COOKIE_PENDING_KEY, None)
    if isinstance(pending, tuple):
        value, max_age = pending
        return _cookie_script(value, max_age)
    return ""


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
    st.session_state.pop(SIGNED_OUT_KEY, None)
    password_hash = ctx.users.password_hash(user.name)
    if ctx.signer is not None and password_hash is not None:
        lifetime = int(ctx.settings.dashboard.session_hours * 3600)
        st.session_state[COOKIE_PENDING_KEY] = (
            ctx.signer.issue(user.name, password_hash, lifetime),
            lifetime,
        )
    log.info("%s signed in", user.name)
    return None


def sign_out() -> None:
    st.session_state.pop(USER_KEY, None)
    st.session_state[SIGNED_OUT_KEY] = True
    st.session_state[COOKIE_PENDING_KEY] = ("", 0)  # max-age 0 deletes it


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
        if ctx.signer is None:
            st.caption("You will be asked to sign in again after reloading the page.")
