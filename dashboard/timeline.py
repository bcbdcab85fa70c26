"""An incident's score timeline as a chart: the three scores over stream time, the thresholds that decide, and
the moments the engine acted (opened, escalated, recovered, fell again, closed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt

from fallwatch.alerts.engine import ScoreSample
from fallwatch.alerts.records import EventRecord
from fallwatch.core.config import AlertsConfig

COLOURS = {"falling": "#d62728", "lying": "#ff7f0e", "normal": "#2ca02c"}
EVENT_COLOUR = "#4b5563"


def _thresholds(config: AlertsConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One rule per score, and one label per distinct value (equal thresholds would print over each other)."""
    named = [
        ("falling", config.fall_threshold, "fall"),
        ("lying", config.lying_threshold, "lying"),
        ("normal", config.recover_threshold, "up again"),
    ]
    rules: list[dict[str, Any]] = [{"score": s, "threshold": v, "name": n} for s, v, n in named]
    by_value: dict[float, list[str]] = {}
    for _, value, name in named:
        by_value.setdefault(value, []).append(name)
    labels = [
        {"threshold": v, "name": f"{' / '.join(names)} threshold {v:.2f}"} for v, names in by_value.items()
    ]
    return rules, labels


def event_label(event: EventRecord) -> str:
    """How an engine event is named on the chart: its kind in words ("fell again", not "fell_again")."""
    return event.kind.value.replace("_", " ")


def timeline_chart(
    points: Sequence[ScoreSample], events: Sequence[EventRecord], config: AlertsConfig
) -> alt.LayerChart:
    rows = [
        {"pts": p.pts, "score": label, "value": getattr(p, label)}
        for p in points
        for label in ("falling", "lying", "normal")
    ]
    colour = alt.Color(
        "score:N",
        title="score",
        scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
        legend=alt.Legend(orient="top"),
    )
    lines = (
        alt.Chart(alt.InlineData(values=rows))
        .mark_line(point=alt.OverlayMarkDef(size=18), interpolate="monotone")
        .encode(
            x=alt.X("pts:Q", title="stream time (s)", scale=alt.Scale(zero=False)),
            y=alt.Y("value:Q", title="probability", scale=alt.Scale(domain=[0, 1])),
            color=colour,
            tooltip=[
                alt.Tooltip("pts:Q", format=".2f"),
                alt.Tooltip("score:N"),
                alt.Tooltip("value:Q", format=".2f"),
            ],
        )
    )
    rule_rows, label_rows = _thresholds(config)
    rules = (
        alt.Chart(alt.InlineData(values=rule_rows))
        .mark_rule(strokeDash=[6, 4], opacity=0.8)
        .encode(y="threshold:Q", color=colour)
    )
    names = (
        alt.Chart(alt.InlineData(values=label_rows))
        .mark_text(align="left", dx=4, dy=-7, fontSize=11, color=EVENT_COLOUR)
        .encode(y="threshold:Q", text="name:N", x=alt.value(0))
    )
    moments = alt.Chart(alt.InlineData(values=[{"pts": e.pts, "event": event_label(e)} for e in events]))
    marks = moments.mark_rule(color=EVENT_COLOUR, strokeWidth=1.5).encode(x="pts:Q")
    labels = moments.mark_text(align="left", dx=4, baseline="top", color=EVENT_COLOUR, fontSize=11).encode(
        x="pts:Q", text="event:N", y=alt.value(4)
    )
    return alt.LayerChart(layer=[lines, rules, names, marks, labels]).properties(height=280)
