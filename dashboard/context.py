"""What every page needs, opened once per dashboard process: settings, the store, the media root, the users.

`fallwatch dashboard` passes the configuration file, store URL and data directory in the environment (see
dashboard/launch.py); the settings are read once, the store opened (and its schema upgraded) once, and the result
shared by every browser session. Changing the YAML file needs a restart of the dashboard.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from fallwatch.alerts.notifiers.messages import Routing
from fallwatch.alerts.store import Store, open_store, resolve_url
from fallwatch.core.config import Settings, dashboard_secret, load_settings
from fallwatch.core.errors import FallWatchError
from fallwatch.dashboard.launch import CONFIG_ENV, DATA_DIR_ENV, STORE_URL_ENV
from fallwatch.dashboard.media import MediaRoot
from fallwatch.dashboard.sessions import Sessions
from fallwatch.dashboard.tokens import TokenKey
from fallwatch.dashboard.users import Directory, Throttle


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    store: Store
    media: MediaRoot
    users: Directory
    sessions: Sessions | None  # None: no FALLWATCH_DASHBOARD_SECRET, so sign-ins do not survive a reload
    throttle: Throttle
    exports: Path  # where training exports are written


@st.cache_resource(show_spinner="Opening the incident store…")
def _open(config: str | None, url: str | None, data_dir: str | None) -> Context:
    # The arguments are only the cache key: the same variables are read again by load_settings.
    del url, data_dir
    settings = load_settings(Path(config) if config else None)
    store = open_store(
        resolve_url(settings.store.url, data_dir=settings.data_dir),
        Routing.from_config(settings.notify),
        settings.store.connect_timeout_s,
    )
    secret = dashboard_secret()
    lifetime_s = settings.dashboard.session_hours * 3600
    return Context(
        settings=settings,
        store=store,
        media=MediaRoot(settings.resolved_media_root),
        users=Directory(dict(settings.dashboard.users), store),
        sessions=Sessions(store, TokenKey(secret), lifetime_s) if secret else None,
        throttle=Throttle(store),
        exports=settings.data_dir / "exports",
    )


def shared() -> Context:
    """The same context outside a page (the cookie route); FallWatchError on a configuration or database
    problem."""
    return _open(os.environ.get(CONFIG_ENV), os.environ.get(STORE_URL_ENV), os.environ.get(DATA_DIR_ENV))


def current() -> Context:
    """The dashboard's context; on a configuration or database problem, one line on the page and a stop."""
    try:
        return shared()
    except FallWatchError as exc:
        st.error(f"FallWatch cannot start: {exc}", icon=":material/error:")
        st.stop()
