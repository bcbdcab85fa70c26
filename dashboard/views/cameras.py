"""Cameras: each camera's state as its worker last reported it, which worker holds it, a recent frame, and its
last incident.

Workers report through `Store.report_camera_status`; a camera whose worker has gone quiet is shown as silent,
not as connected, because a stale "connected" is exactly what a night shift must not be told. For the same reason
a camera whose frames arrive but are analysed too rarely (the machine cannot keep up) is shown as behind, with
the rate it is really analysed at.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from fallwatch.alerts.records import CameraState, CameraStatus, Incident
from fallwatch.dashboard import auth, context, style
from fallwatch.dashboard.context import Context
from fallwatch.dashboard.embedded_media import show_image
from fallwatch.dashboard.media import MediaRefused
from fallwatch.dashboard.users import User


def _state(status: CameraStatus | None, stale_s: float) -> tuple[str, str]:
    if status is None:
        return "No report", "gray"
    if (datetime.now(UTC) - status.updated_at).total_seconds() > stale_s:
        return "Silent", "gray"
    return style.CAMERA_WORDS[status.state]


def _behind(status: CameraStatus) -> None:
    st.error(
        f"**behind: {status.detail or 'analysed too rarely'}**. The machine cannot keep up: falls on this "
        "camera may be missed.",
        icon=":material/speed:",
    )


def _holder(status: CameraStatus) -> str:
    """Which worker analyses the camera (the lease in the store), and since when."""
    if status.worker is None:
        return ":orange[No worker holds it now]: it is being handed on, or no worker has room for it."
    since = (
        f" since {style.local(status.worker_since)} ({style.ago(status.worker_since)})"
        if status.worker_since
        else ""
    )
    return f"Worker `{status.worker}`{since}"


def _frame(ctx: Context, user: User, status: CameraStatus | None) -> None:
    try:
        jpeg = ctx.media.read(status.frame_path, user) if status is not None else None
    except MediaRefused as exc:
        st.error(str(exc), icon=":material/gpp_bad:")
        return
    if jpeg is None:
        st.caption("No recent frame.")
    else:
        show_image(jpeg, f"Frame of {style.local(status.updated_at, with_date=False)}" if status else None)


def _card(ctx: Context, user: User, name: str, status: CameraStatus | None, last: Incident | None) -> None:
    words, colour = _state(status, ctx.settings.dashboard.camera_stale_s)
    with st.container(border=True):
        st.markdown(f"**{name}** :{colour}-badge[{words}]")
        if status is not None:
            behind = words == style.CAMERA_WORDS[CameraState.BEHIND][0]  # not silent, and behind
            if behind:
                _behind(status)
            numbers = st.columns(3)
            numbers[0].metric("fps", f"{status.fps:.1f}", help="Frames really analysed per second, last 10 s")
            numbers[1].metric("dropped", status.dropped)
            numbers[2].metric("reconnects", status.reconnects)
            detail = f" · {status.detail}" if status.detail and not behind else ""
            st.caption(f"Reported {style.ago(status.updated_at)}{detail}")
            st.caption(_holder(status))
        else:
            st.caption("Its worker has not reported.")
        _frame(ctx, user, status)
        if last is None:
            st.caption("No incident yet.")
        else:
            st.page_link(
                "views/incident.py",
                label=f"Last incident: #{last.id} {style.KIND_WORDS[last.kind]}, {style.ago(last.opened_at)}",
                icon=":material/history:",
                query_params={"id": str(last.id)},
            )


def _grid(ctx: Context, user: User) -> None:
    auth.rerun_unless_signed_in(ctx)  # this fragment refreshes itself: no frames once the session has ended
    statuses = {s.camera: s for s in ctx.store.cameras.all()}
    latest = ctx.store.incidents.latest_by_camera()
    names = sorted({*ctx.settings.cameras, *statuses, *latest})
    st.markdown(
        f'<span class="fw-live">Live · updated {style.local(datetime.now(UTC), with_date=False)}</span>',
        unsafe_allow_html=True,
    )
    if not statuses:
        st.info(
            "No worker has reported yet, so the cameras' states are unknown. States appear here once "
            "`fallwatch run` is watching them.",
            icon=":material/videocam_off:",
        )
    if not names:
        st.caption("No cameras configured and none seen in the store.")
        return
    connected = sum(
        _state(statuses.get(n), ctx.settings.dashboard.camera_stale_s)[0] == "Connected" for n in names
    )
    st.caption(f"{connected} of {len(names)} cameras connected.")
    columns = st.columns(3)
    for index, name in enumerate(names):
        with columns[index % 3]:
            _card(ctx, user, name, statuses.get(name), latest.get(name))


def render() -> None:
    ctx = context.current()
    user = auth.require_user(ctx)
    st.title("Cameras", anchor=False)
    st.fragment(run_every=ctx.settings.dashboard.refresh_s)(_grid)(ctx, user)


if __name__ == "__main__":
    render()
