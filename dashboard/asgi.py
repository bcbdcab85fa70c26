"""What `fallwatch dashboard` runs (`streamlit run dashboard/asgi.py`): Streamlit's own ASGI server on the entry
script dashboard/app.py, with the cookie route (dashboard/cookie_route.py) and the download route
(dashboard/download_route.py) beside Streamlit's routes."""

from __future__ import annotations

import sys
from pathlib import Path

# As in dashboard/app.py: FallWatch is imported from the project root, never from dashboard/ itself.
_HERE = Path(__file__).resolve().parent
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import streamlit as st  # noqa: E402

from fallwatch.dashboard import cookie_route, download_route  # noqa: E402

app = st.App(_HERE / "app.py", routes=cookie_route.routes() + download_route.routes())
