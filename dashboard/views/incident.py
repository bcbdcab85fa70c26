"""One incident: the evidence (snapshot with the person's box, the clip), the score timeline against the
thresholds, who did what and when, notes, and the decisions: acknowledge, resolve, or mark a false alarm."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from fallwatch.alerts.records import EventRecord, Incident, IncidentChange, IncidentQuery, Status
from fallwatch.alerts.store import ENGINE_USER
from fallwatch.core.errors import FallWatchError
from fallwatch.core.types import EventKind, Severity
from fallwatch.dashboard import auth, context, drawing, style
from fallwatch.dashboard.context import Context
from fallwatch.dashboard.embedded_media import show_image, show_video
from fallwatch.dashboard.media import MediaRefused
from fallwatch.dashboard.timeline import timeline_chart
from fallwatch.dashboard.users import User

FLASH_KEY = "incident_flash"
EVENT_WORDS = {
    EventKind.OPENED: "fall detected",
    EventKind.ESCALATED: "escalated: lying still too long",
    EventKind.RECOVERED: "person got up",
    EventKind.FELL_AGAIN: "fell again",
    EventKind.CLOSED: "closed (track ended)",
}


def _requested_id() -> int | None:
    raw = st.query_params.get("id")
    return int(raw) if raw is not None and raw.isdigit() else None


def _choose(ctx: Context) -> None:
    """No incident named in the address: offer the recent ones."""
    recent = ctx.store.incidents.query(IncidentQuery(limit=50))
    if not recent:
        st.info("No incidents yet.", icon=":material/inbox:")
        return
    labels = {i.id: f"#{i.id} · {style.title(i)} · {style.local(i.opened_at)}" for i in recent}
    chosen = st.selectbox("Incident", list(labels), format_func=labels.__getitem__, index=None)
    if chosen is not None:
        st.query_params["id"] = str(chosen)
        st.rerun()


def _back() -> None:
    # A button, not st.page_link: a link to the default page renders blank in this Streamlit.
    if st.button("All incidents", icon=":material/arrow_back:", type="tertiary", key="back"):
        st.switch_page("views/incidents.py")


def _header(incident: Incident) -> None:
    _back()
    st.title(f"#{incident.id} · {style.title(incident)}", anchor=False)
    st.markdown(
        f"{style.severity_badge(incident)} {style.status_badge(incident.status)} "
        f":gray-badge[person {style.person_state(incident)}]"
    )
    facts = [
        f"Opened **{style.local(incident.opened_at)}** ({style.ago(incident.opened_at)})",
        f"stream time {incident.opened_pts:.1f} s",
        f"track {incident.track_id}",
        f"zone **{incident.zone}**" if incident.zone else "no zone",
        f"peak falling score {incident.peak_score:.2f}",
    ]
    if incident.escalated_at is not None:
        facts.append(f"escalated {style.local(incident.escalated_at, with_date=False)}")
    st.caption(" · ".join(facts))


def _decide(ctx: Context, user: User, incident: Incident) -> None:
    """The three decisions, each with an optional note; each records who made it."""
    can_take = incident.status is Status.OPEN
    can_resolve = incident.status in (Status.OPEN, Status.ACKNOWLEDGED)
    can_dismiss = incident.status is not Status.FALSE_ALARM
    with st.form("decide", border=True, clear_on_submit=True):
        note = st.text_input("Note (optional)", placeholder="What you found, what you did", key="decide_note")
        buttons = st.columns(3)
        take = buttons[0].form_submit_button(
            "Acknowledge",
            type="primary",
            icon=":material/front_hand:",
            disabled=not can_take,
            width="stretch",
        )
        resolve = buttons[1].form_submit_button(
            "Resolve", icon=":material/check_circle:", disabled=not can_resolve, width="stretch"
        )
        dismiss = buttons[2].form_submit_button(
            "False alarm", icon=":material/do_not_disturb_on:", disabled=not can_dismiss, width="stretch"
        )
    actions = {
        "acknowledged": (take, ctx.store.incidents.acknowledge),
        "resolved": (resolve, ctx.store.incidents.resolve),
    }
    actions["marked a false alarm"] = (dismiss, ctx.store.incidents.mark_false_alarm)
    for done, (clicked, act) in actions.items():
        if clicked:
            try:
                act(incident.id, user.name, note.strip() or None)
            except FallWatchError as exc:  # e.g. a colleague decided first: say so, change nothing
                st.error(str(exc), icon=":material/error:")
                return
            st.session_state[FLASH_KEY] = f"Incident #{incident.id} {done} by {user.name}."
            st.rerun()


def _snapshot(ctx: Context, user: User, incident: Incident, events: list[EventRecord]) -> None:
    jpeg = ctx.media.read(incident.snapshot_path, user)
    if jpeg is None:
        st.info("No snapshot: none was recorded, or retention has deleted it.", icon=":material/hide_image:")
        return
    opened = next((e for e in events if e.kind is EventKind.OPENED and e.box is not None), None)
    if opened is not None and opened.box is not None:
        critical = incident.severity is Severity.CRITICAL
        jpeg = drawing.draw_box(jpeg, opened.box, f"track {incident.track_id}", critical)
        show_image(jpeg, "Snapshot when the fall was detected, with the person's box")
    else:
        show_image(jpeg, "Snapshot when the fall was detected (no box recorded)")


def _clip(ctx: Context, user: User, incident: Incident) -> None:
    clip = ctx.media.read(incident.clip_path, user)
    if clip is None:
        st.info("No clip: none was recorded, or retention has deleted it.", icon=":material/videocam_off:")
        return
    show_video(clip)
    st.caption(
        f"Clip: {ctx.settings.media.pre_roll_s:g} s before and {ctx.settings.media.post_roll_s:g} s after"
    )


def _evidence(ctx: Context, user: User, incident: Incident, events: list[EventRecord]) -> None:
    left, right = st.columns(2)
    try:
        with left:
            _snapshot(ctx, user, incident, events)
        with right:
            _clip(ctx, user, incident)
    except MediaRefused as exc:  # a path in the store that points outside the media root: never read
        st.error(str(exc), icon=":material/gpp_bad:")


def _history(events: list[EventRecord], changes: list[IncidentChange]) -> list[dict[str, str]]:
    """Engine events and people's changes, oldest first."""
    rows: list[tuple[datetime, str, str, str]] = [
        (
            e.at,
            ENGINE_USER,
            f"{EVENT_WORDS[e.kind]} ({e.severity.value}, score {e.score:.2f}, stream {e.pts:.1f} s)",
            "",
        )
        for e in events
    ]
    for c in changes:
        if c.by == ENGINE_USER and c.field == "status" and c.old is None:
            continue  # the incident's creation, already told by the "fall detected" event
        what = "note" if c.field == "note" else f"{c.field}: {c.old or '-'} -> {c.new or '-'}"
        rows.append((c.at, c.by, what, c.note or ""))
    rows.sort(key=lambda row: row[0])
    return [{"When": style.local(at), "Who": who, "What": what, "Note": note} for at, who, what, note in rows]


def _notes(ctx: Context, user: User, incident: Incident) -> None:
    if incident.notes:
        for line in incident.notes.splitlines():
            st.markdown(f"- {line}")
    else:
        st.caption("No notes yet.")
    with st.form("add_note", clear_on_submit=True, border=False):
        text = st.text_input("Add a note", key="note_text", placeholder="e.g. resident checked, no injury")
        if st.form_submit_button("Add note", icon=":material/edit_note:") and text.strip():
            ctx.store.incidents.add_note(incident.id, user.name, text)
            st.session_state[FLASH_KEY] = "Note added."
            st.rerun()


def _deliveries(ctx: Context, incident: Incident) -> None:
    outbox = ctx.store.outbox.entries(incident.id)
    if not outbox:
        st.caption("No receivers configured (webhooks, MQTT).")
        return
    st.dataframe(
        [
            {
                "Message": o.event,
                "To": o.destination,
                "Status": o.status.value,
                "Tries": o.attempts,
                "Delivered": style.local(o.delivered_at),
                "Last error": o.last_error or "",
            }
            for o in outbox
        ],
        hide_index=True,
        width="stretch",
    )


def render() -> None:
    ctx = context.current()
    user = auth.require_user(ctx)
    incident_id = _requested_id()
    if incident_id is None:
        st.title("Incident", anchor=False)
        _choose(ctx)
        return
    try:
        incident = ctx.store.incidents.get(incident_id)
    except FallWatchError as exc:
        st.error(str(exc), icon=":material/search_off:")
        _back()
        return
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash, icon=":material/check:")
    events, changes = ctx.store.incidents.events(incident.id), ctx.store.incidents.changes(incident.id)
    _header(incident)
    _decide(ctx, user, incident)
    _evidence(ctx, user, incident, events)
    st.subheader("Scores over time", anchor=False)
    points = ctx.store.incidents.timeline(incident.id)
    if points:
        st.altair_chart(timeline_chart(points, events, ctx.settings.alerts), width="stretch")
        st.caption("Dashed lines: the thresholds from the alerts settings. Grey lines: what the engine did.")
    else:
        st.caption("No scores recorded.")
    history, notes = st.columns([3, 2])
    with history:
        st.subheader("History", anchor=False)
        st.dataframe(_history(events, changes), hide_index=True, width="stretch")
    with notes:
        st.subheader("Notes", anchor=False)
        _notes(ctx, user, incident)
    with st.expander("Notifications sent"):
        _deliveries(ctx, incident)


if __name__ == "__main__":
    render()
