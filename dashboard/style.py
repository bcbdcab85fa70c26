"""The dashboard's look and its words: CSS, badges, and how times and states are written for people."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from fallwatch.alerts.records import CameraState, Incident, IncidentKind, Outcome, Status
from fallwatch.core.types import Severity

# No "<" inside the style element (not even in a comment): Streamlit's HTML sanitiser drops the whole element.
CSS = """
<style>
  .block-container { padding-top: 4rem; max-width: 1400px; }  /* clear of the header bar */
  [data-testid="stMetricValue"] { font-size: 1.9rem; }
  .fw-brand { font-weight: 700; font-size: 1.25rem; letter-spacing: .02em; color: #1f4e79; }
  .fw-muted { color: #6b7280; font-size: .9rem; }
  .fw-live { color: #15803d; font-size: .85rem; }
  .fw-live::before { content: "●"; margin-right: .35rem; animation: fw-pulse 2s infinite; }
  @keyframes fw-pulse { 0%, 100% { opacity: 1; } 50% { opacity: .25; } }
  /* Incident cards: containers keyed fw-critical-ID or fw-warning-ID get a coloured edge. */
  [class*="st-key-fw-critical"] { border-left: 6px solid #dc2626 !important; background: #fef2f2; }
  [class*="st-key-fw-warning"] { border-left: 6px solid #f59e0b !important; background: #fffbeb; }
  /* Pictures and clips embedded by dashboard/embedded_media.py, as st.image and st.video showed them. */
  .fw-media { margin: 0 0 1rem 0; }
  .fw-media img, .fw-media video { display: block; width: 100%; border-radius: .5rem; }
  .fw-media figcaption { color: #6b7280; font-size: .875rem; text-align: center; margin-top: .35rem; }
</style>
"""

STATUS_WORDS = {
    Status.OPEN: "Needs review",
    Status.ACKNOWLEDGED: "Acknowledged",
    Status.RESOLVED: "Resolved",
    Status.FALSE_ALARM: "False alarm",
}
STATUS_COLOURS = {
    Status.OPEN: "red",
    Status.ACKNOWLEDGED: "blue",
    Status.RESOLVED: "green",
    Status.FALSE_ALARM: "gray",
}
KIND_WORDS = {IncidentKind.FALL: "Fall", IncidentKind.COLLAPSE: "Collapse"}
SEVERITY_WORDS = {Severity.CRITICAL: "Critical", Severity.WARNING: "Warning"}
CAMERA_WORDS = {
    CameraState.CONNECTED: ("Connected", "green"),
    CameraState.BEHIND: ("Behind", "red"),  # frames arrive, but too few are analysed: falls may be missed
    CameraState.RECONNECTING: ("Reconnecting", "orange"),
    CameraState.STOPPED: ("Stopped", "gray"),
}


def apply(script: str = "") -> None:
    """The dashboard's CSS; and `script`, if any, in the sidebar (kept apart from the CSS, which a script in the
    same part of the page would displace)."""
    st.html(CSS)
    if script:
        st.sidebar.html(script, unsafe_allow_javascript=True)


def local(moment: datetime | None, with_date: bool = True) -> str:
    """A time in the dashboard server's time zone, as a person reads it."""
    if moment is None:
        return "-"
    shown = moment.astimezone()
    return shown.strftime("%a %d %b %H:%M:%S" if with_date else "%H:%M:%S")


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
    return f"{seconds // 86400} days ago"


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def person_state(incident: Incident) -> str:
    """What the engine last knew about the person."""
    if incident.outcome is Outcome.RECOVERED:
        return "got up"
    if incident.outcome is Outcome.CLOSED:
        return "out of view"
    return "still down"


def severity_badge(incident: Incident) -> str:
    if incident.severity is Severity.CRITICAL:
        return ":red-badge[:material/emergency: Critical]"
    return ":orange-badge[:material/warning: Warning]"


def status_badge(status: Status) -> str:
    return f":{STATUS_COLOURS[status]}-badge[{STATUS_WORDS[status]}]"


def title(incident: Incident) -> str:
    return f"{KIND_WORDS[incident.kind]} on {incident.camera}"
