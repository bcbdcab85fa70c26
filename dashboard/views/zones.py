"""Zones: a camera's still frame with its zones drawn, so that whoever set them can check where they lie.

The still frame is the camera's latest reported frame, else its latest incident snapshot; without either the
zones are drawn on a blank canvas of the camera's size.
"""

from __future__ import annotations

import streamlit as st

from fallwatch.alerts.records import IncidentQuery
from fallwatch.core.config import ZoneConfig
from fallwatch.dashboard import auth, context, drawing
from fallwatch.dashboard.context import Context
from fallwatch.dashboard.embedded_media import show_image
from fallwatch.dashboard.media import MediaRefused
from fallwatch.dashboard.users import User

MEANING = {
    "ignore": "predictions there are dropped (a TV, a poster, a mirror)",
    "rest": "lying down is expected there (a bed, a sofa): no fall is raised",
    "area": "only names the place on incidents",
}


def _still(ctx: Context, user: User, camera: str) -> tuple[bytes | None, str]:
    """The best still frame of `camera` and where it came from."""
    status = next((s for s in ctx.store.cameras.all() if s.camera == camera), None)
    if status is not None and status.frame_path:
        frame = ctx.media.read(status.frame_path, user)
        if frame is not None:
            return frame, "the camera's latest frame"
    for incident in ctx.store.incidents.query(IncidentQuery(cameras=(camera,), limit=5)):
        snapshot = ctx.media.read(incident.snapshot_path, user)
        if snapshot is not None:
            return snapshot, f"the snapshot of incident #{incident.id}"
    return None, ""


def _legend(zones: list[ZoneConfig]) -> None:
    st.dataframe(
        [
            {"Zone": z.name, "Kind": z.kind, "What it does": MEANING[z.kind], "Corners": len(z.points)}
            for z in zones
        ],
        hide_index=True,
        width="stretch",
    )


def render() -> None:
    ctx = context.current()
    user = auth.require_user(ctx)
    st.title("Zones", anchor=False)
    configured = ctx.settings.alerts.zones
    # Cameras with zones first: they are what this page is for.
    others = sorted({*ctx.settings.cameras, *ctx.store.incidents.camera_names()} - set(configured))
    cameras = sorted(configured) + others
    if not cameras:
        st.info("No cameras yet: configure them (and their zones under alerts.zones) in the settings file.")
        return
    camera = st.columns([1, 2])[0].selectbox("Camera", cameras, key="zones_camera")
    zones = list(configured.get(camera, []))
    try:
        frame, source = _still(ctx, user, camera)
    except MediaRefused as exc:
        st.error(str(exc), icon=":material/gpp_bad:")
        frame, source = None, ""
    picture = drawing.draw_zones(frame, zones)
    left, right = st.columns([3, 2])
    with left:
        caption = f"Zones of {camera} on {source}." if frame is not None else "No frame of this camera yet."
        show_image(picture, caption)
    with right:
        if zones:
            _legend(zones)
        else:
            st.info(f"No zones for {camera}.", icon=":material/pentagon:")
        st.caption(
            "Zones are set in the settings file under `alerts.zones`, as polygons in source pixels: "
            f"`{camera}: [{{name: bed, kind: rest, points: [[x, y], ...]}}]`. A person is in a zone when "
            "the centre of their box is."
        )


if __name__ == "__main__":
    render()
