"""The dashboard's entry script (`streamlit run dashboard/app.py`, started by `fallwatch dashboard`).

Until someone signs in, the only page registered is the sign-in page, so no other page's URL leads anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run dashboard/app.py` puts dashboard/ first on sys.path (on every run), where this very file would
# shadow the `app` package and dashboard/media.py any module called `media`. FallWatch is imported from the
# project root instead, which also lets the script run from a checkout that is not installed.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import streamlit as st  # noqa: E402

from fallwatch.dashboard import auth, context, style  # noqa: E402
from fallwatch.dashboard.users import User  # noqa: E402

# Not "pages/": Streamlit runs a file in a folder of that name directly when its URL is opened before this script
# has run, which would skip the sign-in gate below.
VIEWS = Path(__file__).with_name("views")


# (section, file in views/, title, icon, url path). Each page answers at its own path, the first also at the root.
PAGES = (
    ("Review", "incidents.py", "Incidents", ":material/notifications:", "incidents"),
    ("Review", "incident.py", "Incident", ":material/person_alert:", "incident"),
    ("Site", "cameras.py", "Cameras", ":material/videocam:", "cameras"),
    ("Site", "zones.py", "Zones", ":material/pentagon:", "zones"),
    ("Data", "exports.py", "Exports", ":material/download:", "exports"),
)
HIDDEN = frozenset({"incident"})  # reached from an incident, not from the menu
# Streamlit serves its default page at the root only, and answers the default page's own path with a "Page not
# found" pop-up: so the default page is a hidden one of its own, and every path in PAGES is a page that is not.
ROOT = "home"


def _home() -> None:
    """The root, signed in: the first page at its own address."""
    st.switch_page(VIEWS / PAGES[0][1])


def _pages() -> dict[str, list[st.Page]]:
    sections: dict[str, list[st.Page]] = {}
    for section, file, title, icon, path in PAGES:
        page = st.Page(
            VIEWS / file,
            title=title,
            icon=icon,
            url_path=path,
            visibility="hidden" if path in HIDDEN else "visible",
        )
        sections.setdefault(section, []).append(page)
    root = st.Page(_home, title=PAGES[0][2], url_path=ROOT, default=True, visibility="hidden")
    sections[PAGES[0][0]].insert(0, root)
    return sections


def _gate() -> list[st.Page]:
    """The sign-in page at the root and under every page's address: a link to an incident asks for a sign-in,
    then (same address, same page hash) opens that incident."""
    root = st.Page(auth.sign_in_page, title="Sign in", url_path=ROOT, default=True)
    return [root] + [st.Page(auth.sign_in_page, title="Sign in", url_path=path) for _, _, _, _, path in PAGES]


def _sidebar(ctx: context.Context, user: User) -> None:
    with st.sidebar:
        st.markdown('<div class="fw-brand">FallWatch</div>', unsafe_allow_html=True)
        st.caption(f"Signed in as **{user.name}**")
        if st.button("Sign out", icon=":material/logout:", key="sign_out"):
            auth.sign_out(ctx)
            st.rerun()


def main() -> None:
    st.set_page_config(
        page_title="FallWatch",
        page_icon=":material/elderly:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    ctx = context.current()
    user = auth.current_user(ctx)
    if user is None:
        page = st.navigation(_gate(), position="hidden")
    else:
        page = st.navigation(_pages())
        if page.url_path == "":
            _home()  # before anything is shown: the cookie script of a sign-in must reach the page it opens
    style.apply(auth.pending_cookie_script())
    if user is not None:
        _sidebar(ctx, user)
    page.run()


main()
