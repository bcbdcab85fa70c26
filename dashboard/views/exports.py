"""Exports: the incident list as CSV, and reviewed incidents as a labelled training set for `fallwatch train`."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from fallwatch.alerts.records import IncidentQuery
from fallwatch.dashboard import auth, context, downloads, export, filters
from fallwatch.dashboard.context import Context
from fallwatch.dashboard.users import User

ZIP_LIMIT = 300 * 1024 * 1024  # larger exports are copied from the server's folder, not through the browser
REPORT_KEY = "exports_report"


def _csv(ctx: Context, user: User, query: IncidentQuery) -> None:
    incidents = ctx.store.incidents.query(query)
    st.subheader("Incidents as CSV", anchor=False)
    st.caption(f"{len(incidents)} incidents match the filters; times in UTC.")
    if not incidents:
        return
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    # Read again when the link is followed: the file holds what matches then, not at the page's last run.
    downloads.download_link(
        "Download CSV",
        user,
        f"fallwatch-incidents-{stamp}.csv",
        "text/csv",
        lambda: export.incidents_csv(ctx.store.incidents.query(query)),
        icon=":material/table_view:",
        slot="incidents_csv",
    )


def _training(ctx: Context, user: User, query: IncidentQuery) -> None:
    st.subheader("Training data from reviews", anchor=False)
    reviewed = IncidentQuery(
        query.cameras, query.kinds, query.severities, export.REVIEWED, query.since, query.until
    )
    counts = ctx.store.incidents.count(reviewed)
    falls = counts.acknowledged + counts.resolved
    st.caption(
        f"Confirmed falls (acknowledged or resolved): **{falls}** → label `fall`. "
        f"False alarms: **{counts.false_alarm}** → label `adl`. Each clip is copied beside a `manifest.csv` in the "
        "falldata format, which `fallwatch train` reads."
    )
    if st.button("Write training export", icon=":material/model_training:", disabled=counts.total == 0):
        folder = ctx.exports / f"falldata-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        with st.spinner("Copying clips…"):
            st.session_state[REPORT_KEY] = export.training_export(
                ctx.store, ctx.media, ctx.settings, folder, user, query
            )
    report = st.session_state.get(REPORT_KEY)
    if isinstance(report, export.ExportReport):
        st.success(
            f"Wrote {report.falls} falls and {report.false_alarms} false alarms to `{report.folder}`.",
            icon=":material/folder:",
        )
        for reason in report.skipped:
            st.caption(f"Left out: {reason}")
        size = sum(p.stat().st_size for p in report.folder.rglob("*") if p.is_file())
        if size <= ZIP_LIMIT:
            folder = report.folder
            downloads.download_link(
                "Download as .zip",
                user,
                f"{folder.name}.zip",
                "application/zip",
                lambda: export.zip_folder(folder),
                icon=":material/folder_zip:",
                slot="training_zip",
            )
        else:
            st.caption(f"{size / 2**20:.0f} MB: copy the folder from the server instead.")


def render() -> None:
    ctx = context.current()
    user = auth.require_user(ctx)
    st.title("Exports", anchor=False)
    query = filters.incident_filters(ctx, "exports", limit=1_000_000)
    _csv(ctx, user, query)
    st.divider()
    _training(ctx, user, query)


if __name__ == "__main__":
    render()
