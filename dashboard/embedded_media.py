"""The one way the dashboard shows a picture or a clip: its bytes inside the page, as a data: URI.

Streamlit's st.image, st.video and st.audio hand the bytes to its media file manager, which serves them at
/media/... addresses to anyone who has the address, without a sign-in and for minutes after the page has moved
on. Embedded in the page instead, evidence reaches the browser only over the signed-in session's own WebSocket,
and no address serves it. The price: the bytes travel again on each run of the page (so thumbnails are shrunk)
and a clip weighs a third more in the page than on disk (a few MB).
"""

from __future__ import annotations

import base64
import html

import streamlit as st

from fallwatch.dashboard import drawing


def data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def show_image(jpeg: bytes, caption: str | None = None, *, max_width_px: int | None = None) -> None:
    """A JPEG as wide as its column, with its caption below (and as its alt text); `max_width_px` shrinks a
    larger picture first (a thumbnail)."""
    if max_width_px is not None:
        jpeg = drawing.shrink(jpeg, max_width_px)
    alt = html.escape(caption or "picture", quote=True)
    _figure(f'<img src="{data_uri("image/jpeg", jpeg)}" alt="{alt}">', caption)


def show_video(mp4: bytes, caption: str | None = None) -> None:
    """An MP4 clip with the browser's own player controls."""
    _figure(f'<video controls preload="metadata" src="{data_uri("video/mp4", mp4)}"></video>', caption)


def _figure(element: str, caption: str | None) -> None:
    below = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    st.html(f'<figure class="fw-media">{element}{below}</figure>')
