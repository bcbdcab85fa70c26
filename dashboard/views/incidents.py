"""Incidents: what needs attention now, then every incident matching the filters, newest first.

The board refreshes itself every `dashboard.refresh_s` seconds (a fragment, so the filters keep their state),
so a new incident shows within a few seconds and is announced with a toast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from fallwatch.alerts.records import Incident, IncidentCounts, IncidentQuery, Status
from fallwatch.core.types import Severity
from fallwatch.dashboard import auth, context, filters, style
from fallwatch.dashboard.context import Context
from fallwatch.dashboard.embedded_media import show_image
from fallwatch.dashboard.users import User

DETAIL = "views/incident.py"
MOST_CARDS = 6  # open incidents shown as cards; the rest are in the table below
THUMBNAIL_PX = 480  # a card's snapshot, sent again on every refresh: sharp enough, and small
SEEN_KEY = "incidents_seen_up_to"
TABLE_KEY = "incidents_table_generation"


def _metrics(counts: IncidentCounts) -> None:
    cells = st.columns(6)
    cells[0].metric("Needs review", counts.open, border=True)
    cells[1].metric("Critical, not taken", counts.critical_open, border=True)
    cells[2].metric("Person still down", counts.active, border=True)
    cells[3].metric("Acknowledged", counts.acknowledged, border=True)
    cells[4].metric("Resolved", counts.resolved, border=True)
    cells[5].metric("False alarms", counts.false_alarm, border=True)


def _announce(incidents: list[Incident]) -> None:
    """A toast for each incident that appeared since this browser last looked (not on the first look)."""
    newest = max((i.id for i in incidents), default=0)
    seen = st.session_state.get(SEEN_KEY)
    if isinstance(seen, int):
        for incident in sorted((i for i in incidents if i.id > seen), key=lambda i: i.id):
            critical = incident.severity is Severity.CRITICAL
            st.toast(
                f"New: {style.title(incident)} (#{incident.id})",
                icon=":material/emergency:" if critical else ":material/warning:",
                duration="long",
            )
    st.session_state[SEEN_KEY] = max(newest, seen if isinstance(seen, int) else 0)


def _card(ctx: Context, user: User, incident: Incident) -> None:
    critical = incident.severity is Severity.CRITICAL
    with st.container(border=True, key=f"fw-{'critical' if critical else 'warning'}-{incident.id}"):
        picture, words = st.columns([1, 2.2], vertical_alignment="center")
        with picture:
            snapshot = ctx.media.read(incident.snapshot_path, user) if incident.snapshot_path else None
            if snapshot is not None:
                show_image(snapshot, max_width_px=THUMBNAIL_PX)
            else:
                st.caption("no snapshot")
        with words:
            st.markdown(f"**{style.title(incident)}** · #{incident.id}  \n{style.severity_badge(incident)}")
            down = style.person_state(incident)
            st.caption(
                f"{style.local(incident.opened_at, with_date=False)} ({style.ago(incident.opened_at)}) · "
                f"person {down}" + (f" · zone {incident.zone}" if incident.zone else "")
            )
            st.page_link(
                DETAIL,
                label="Open incident",
                icon=":material/open_in_new:",
                query_params={"id": str(incident.id)},
            )


def _attention(ctx: Context, user: User, incidents: list[Incident]) -> None:
    waiting = [i for i in incidents if i.status is Status.OPEN]
    if not waiting:
        st.success("Nothing waiting for review.", icon=":material/task_alt:")
        return
    waiting.sort(key=lambda i: (i.severity is not Severity.CRITICAL, -i.id))  # critical first, then newest
    critical = sum(i.severity is Severity.CRITICAL for i in waiting)
    if critical:
        st.error(
            f"**{critical} critical** incident{'s' if critical > 1 else ''} not yet taken.",
            icon=":material/emergency:",
        )
    columns = st.columns(3)
    for index, incident in enumerate(waiting[:MOST_CARDS]):
        with columns[index % 3]:
            _card(ctx, user, incident)
    if len(waiting) > MOST_CARDS:
        st.caption(f"and {len(waiting) - MOST_CARDS} more waiting, in the table below")


def _rows(incidents: list[Incident]) -> list[dict[str, Any]]:
    return [
        {
            "#": i.id,
            "Opened": style.local(i.opened_at),
            "Camera": i.camera,
            "Severity": style.SEVERITY_WORDS[i.severity],
            "What": style.KIND_WORDS[i.kind],
            "Status": style.STATUS_WORDS[i.status],
            "Person": style.person_state(i),
            "Zone": i.zone or "",
            "Peak": i.peak_score,
            "Last change by": i.updated_by,
        }
        for i in incidents
    ]


def _table(incidents: list[Incident]) -> None:
    if not incidents:
        st.info("No incidents match these filters.", icon=":material/filter_alt_off:")
        return
    generation = st.session_state.get(TABLE_KEY, 0)
    picked = st.dataframe(
        _rows(incidents),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"incidents_table_{generation}",
        column_config={
            "#": st.column_config.NumberColumn(width="small"),
            "Peak": st.column_config.ProgressColumn(
                "Peak falling", min_value=0.0, max_value=1.0, format="%.2f"
            ),
        },
    )
    rows = picked.selection.rows if picked is not None else []
    if rows:
        st.session_state[TABLE_KEY] = generation + 1  # a new table next time: the selection does not stick
        st.switch_page(DETAIL, query_params={"id": str(incidents[rows[0]].id)})
    st.caption("Select a row to open the incident.")


def _board(ctx: Context, user: User, query: IncidentQuery) -> None:
    auth.rerun_unless_signed_in(ctx)  # this fragment refreshes itself: not once the session has ended
    counts = ctx.store.incidents.count(query)
    incidents = ctx.store.incidents.query(query)
    now = datetime.now(UTC)
    st.markdown(
        f'<span class="fw-live">Live · updated {style.local(now, with_date=False)} · '
        f"every {ctx.settings.dashboard.refresh_s:g} s</span>",
        unsafe_allow_html=True,
    )
    _announce(incidents)
    _metrics(counts)
    st.subheader("Needs attention", anchor=False)
    _attention(ctx, user, incidents)
    st.subheader("All incidents", anchor=False)
    if counts.total > len(incidents):
        st.caption(
            f"Showing the newest {len(incidents)} of {counts.total}; narrow the filters to see older ones."
        )
    _table(incidents)


def render() -> None:
    ctx = context.current()
    user = auth.require_user(ctx)
    st.title("Incidents", anchor=False)
    query = filters.incident_filters(ctx, "incidents")
    board = st.fragment(run_every=ctx.settings.dashboard.refresh_s)(_board)
    board(ctx, user, query)


if __name__ == "__main__":
    render()
