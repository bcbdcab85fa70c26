"""The incident filters shared by the Incidents and Exports pages: camera, kind, severity, status, time range."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import streamlit as st

from alerts.records import IncidentKind, IncidentQuery, Status
from app.types import Severity
from dashboard.context import Context
from dashboard.style import KIND_WORDS, SEVERITY_WORDS, STATUS_WORDS

RANGES: dict[str, timedelta | None] = {
    "Last hour": timedelta(hours=1),
    "Last 12 hours": timedelta(hours=12),
    "Last 24 hours": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
}
BETWEEN = "Between dates…"


def _time_range(prefix: str, default: str) -> tuple[datetime | None, datetime | None]:
    choice = st.selectbox("Time", [*RANGES, BETWEEN], index=[*RANGES].index(default), key=f"{prefix}_range")
    if choice != BETWEEN:
        span = RANGES[choice]
        return (None if span is None else datetime.now(UTC) - span), None
    today = date.today()
    picked = st.date_input("Dates", (today - timedelta(days=7), today), key=f"{prefix}_dates")
    if not isinstance(picked, tuple) or len(picked) != 2:
        return None, None  # the second date is still being picked
    first, last = picked
    local = datetime.now().astimezone().tzinfo  # dates are the operator's days, in the server's time zone
    since = datetime.combine(first, time.min, tzinfo=local)
    until = datetime.combine(last + timedelta(days=1), time.min, tzinfo=local)
    return since, until


def incident_filters(
    ctx: Context, prefix: str, statuses: bool = True, default_range: str = "All time", limit: int = 500
) -> IncidentQuery:
    """Filter widgets in one row; the query they describe (an empty choice means any)."""
    cameras = sorted({*ctx.store.camera_names(), *ctx.settings.cameras})
    columns = st.columns([2, 1.3, 1.3, 2, 1.6] if statuses else [2, 1.3, 1.3, 1.6])
    with columns[0]:
        chosen_cameras = st.multiselect(
            "Cameras", cameras, key=f"{prefix}_cameras", placeholder="All cameras"
        )
    with columns[1]:
        kinds = st.multiselect(
            "Kind",
            list(IncidentKind),
            format_func=KIND_WORDS.__getitem__,
            key=f"{prefix}_kinds",
            placeholder="Any",
        )
    with columns[2]:
        severities = st.multiselect(
            "Severity",
            list(Severity),
            format_func=SEVERITY_WORDS.__getitem__,
            key=f"{prefix}_severities",
            placeholder="Any",
        )
    chosen_statuses: list[Status] = []
    if statuses:
        with columns[3]:
            chosen_statuses = st.multiselect(
                "Status",
                list(Status),
                format_func=STATUS_WORDS.__getitem__,
                key=f"{prefix}_statuses",
                placeholder="Any status",
            )
    with columns[-1]:
        since, until = _time_range(prefix, default_range)
    return IncidentQuery(
        cameras=tuple(chosen_cameras),
        kinds=tuple(kinds),
        severities=tuple(severities),
        statuses=tuple(chosen_statuses),
        since=since,
        until=until,
        limit=limit,
    )
