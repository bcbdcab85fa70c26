"""The incident filters shared by the Incidents and Exports pages: camera, kind, severity, status, time range."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import TypeVar

import streamlit as st

from fallwatch.alerts.records import IncidentKind, IncidentQuery, Status
from fallwatch.core.types import Severity
from fallwatch.dashboard.context import Context
from fallwatch.dashboard.style import KIND_WORDS, SEVERITY_WORDS, STATUS_WORDS

RANGES: dict[str, timedelta | None] = {
    "Last hour": timedelta(hours=1),
    "Last 12 hours": timedelta(hours=12),
    "Last 24 hours": timedelta(hours=24),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "All time": None,
}
BETWEEN = "Between dates…"
E = TypeVar("E", bound=Enum)


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


def _any_of(label: str, members: type[E], words: Mapping[E, str], key: str, placeholder: str) -> list[E]:
    """A multiselect over an enum's members, shown by their words; an empty choice means any."""
    return st.multiselect(
        label, list(members), format_func=words.__getitem__, key=key, placeholder=placeholder
    )


def incident_filters(
    ctx: Context, prefix: str, statuses: bool = True, default_range: str = "All time", limit: int = 500
) -> IncidentQuery:
    """Filter widgets in one row; the query they describe (an empty choice means any)."""
    cameras = sorted({*ctx.store.incidents.camera_names(), *ctx.settings.cameras})
    columns = st.columns([2, 1.3, 1.3, 2, 1.6] if statuses else [2, 1.3, 1.3, 1.6])
    with columns[0]:
        chosen_cameras = st.multiselect(
            "Cameras", cameras, key=f"{prefix}_cameras", placeholder="All cameras"
        )
    with columns[1]:
        kinds = _any_of("Kind", IncidentKind, KIND_WORDS, f"{prefix}_kinds", "Any")
    with columns[2]:
        severities = _any_of("Severity", Severity, SEVERITY_WORDS, f"{prefix}_severities", "Any")
    chosen_statuses: list[Status] = []
    if statuses:
        with columns[3]:
            chosen_statuses = _any_of("Status", Status, STATUS_WORDS, f"{prefix}_statuses", "Any status")
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
