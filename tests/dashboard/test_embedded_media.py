"""Pictures and clips go into the page as data: URIs through dashboard/embedded_media.py, and nothing in the
dashboard hands media to Streamlit's media file manager (whose /media/ addresses need no sign-in)."""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from fallwatch.dashboard import drawing
from fallwatch.dashboard.embedded_media import data_uri
from tests.dashboard.conftest import REPO, Site

DASHBOARD = REPO / "dashboard"
# Streamlit calls that register bytes with the media file manager, served at /media/... to anyone.
MEDIA_MANAGER_CALLS = frozenset({"image", "video", "audio", "pyplot", "logo"})


def _media_manager_calls(path: Path) -> list[str]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        called = node.func if isinstance(node, ast.Call) else None
        if isinstance(called, ast.Attribute) and called.attr in MEDIA_MANAGER_CALLS:
            calls.append(f"{path.relative_to(REPO)}:{node.lineno} .{called.attr}(")
    return calls


def test_no_page_shows_media_through_streamlits_media_file_manager() -> None:
    found = [call for path in sorted(DASHBOARD.rglob("*.py")) for call in _media_manager_calls(path)]
    assert found == []


def test_a_data_uri_holds_exactly_the_bytes() -> None:
    payload = bytes(range(256)) * 3
    uri = data_uri("video/mp4", payload)
    assert uri.startswith("data:video/mp4;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == payload


def _show(snapshot: str, caption: str) -> None:
    from pathlib import Path

    from fallwatch.dashboard.embedded_media import show_image

    show_image(Path(snapshot).read_bytes(), caption, max_width_px=160)


def test_a_picture_is_embedded_with_its_caption_escaped_and_a_thumbnail_shrunk(site: Site) -> None:
    snapshot = site.evidence.root / str(site.evidence.refs.snapshot)
    at = AppTest.from_function(_show, args=(str(snapshot), "Bed <1> & 'door'"), default_timeout=60).run()
    [html] = [h.value for h in at.html]
    assert "<figcaption>Bed &lt;1&gt; &amp; &#x27;door&#x27;</figcaption>" in html
    encoded = re.search(r'src="data:image/jpeg;base64,([^"]+)"', html)
    assert encoded is not None
    shown = drawing.decode(base64.b64decode(encoded.group(1)))
    original = drawing.decode(snapshot.read_bytes())
    assert shown is not None and original is not None
    assert shown.shape[1] == 160 and original.shape[1] > 160
