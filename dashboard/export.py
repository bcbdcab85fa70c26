"""Exports: the incident list as CSV, and reviewed incidents as labelled training clips.

The training export is a folder in the `falldata` manifest format (the columns of ../shared/falldata/
manifest.csv): each confirmed fall (acknowledged or resolved by a person) is a `fall` clip, each false alarm an
`adl` clip, with the clip copied beside the manifest. `fallwatch train` reads it like falldata, so operators'
decisions become fine-tuning data.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fallwatch.alerts.media import safe_name
from fallwatch.alerts.records import EventRecord, Incident, IncidentChange, IncidentQuery, Status
from fallwatch.alerts.store import ENGINE_USER, Store
from fallwatch.core.config import Settings
from fallwatch.core.types import EventKind
from fallwatch.dashboard.media import MediaRefused, MediaRoot
from fallwatch.dashboard.users import User
from fallwatch.ingest.probe import ClipFacts, probe_clip

MANIFEST_COLUMNS = [  # exactly the columns of falldata/manifest.csv, in its order
    "path", "source", "label", "fall_start_s", "fall_end_s", "fps", "frames", "width", "height",
    "subject_or_scene", "crop", "annotation", "notes", "commit", "repo_path",
]  # fmt: skip
CSV_COLUMNS = [
    "id", "opened_at", "camera", "kind", "severity", "status", "outcome", "zone", "track_id", "opened_pts",
    "peak_score", "score", "escalated_at", "ended_at", "updated_at", "updated_by", "snapshot_path", "clip_path",
    "notes", "key",
]  # fmt: skip
SOURCE = "fallwatch"
REVIEWED = (Status.ACKNOWLEDGED, Status.RESOLVED, Status.FALSE_ALARM)


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def incidents_csv(incidents: Sequence[Incident]) -> bytes:
    """The incidents as CSV (UTF-8, one row each, times in UTC ISO 8601)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i in incidents:
        writer.writerow(
            {
                "id": i.id,
                "opened_at": _iso(i.opened_at),
                "camera": i.camera,
                "kind": i.kind.value,
                "severity": i.severity.value,
                "status": i.status.value,
                "outcome": i.outcome.value if i.outcome else "",
                "zone": i.zone or "",
                "track_id": i.track_id,
                "opened_pts": f"{i.opened_pts:.3f}",
                "peak_score": f"{i.peak_score:.4f}",
                "score": f"{i.score:.4f}",
                "escalated_at": _iso(i.escalated_at),
                "ended_at": _iso(i.ended_at),
                "updated_at": _iso(i.updated_at),
                "updated_by": i.updated_by,
                "snapshot_path": i.snapshot_path or "",
                "clip_path": i.clip_path or "",
                "notes": " | ".join(i.notes.splitlines()),
                "key": i.key,
            }
        )
    return out.getvalue().encode("utf-8")


def fall_interval(
    incident: Incident, events: Sequence[EventRecord], clip: ClipFacts, pre_roll_s: float, margin_s: float
) -> tuple[float, float]:
    """Where the fall is in the clip, in seconds from its first frame.

    The clip starts `pre_roll_s` before the incident opened (or at the stream's start, if that was sooner), so the
    opening moment is min(opened_pts, pre_roll_s) into it. The engine opens an incident once the fall is
    under way, hence the margin before it. The fall ends when the person got up, or with the clip."""
    opened = min(incident.opened_pts, pre_roll_s, clip.duration)
    start = max(0.0, opened - margin_s)
    ups = [e.pts for e in events if e.kind is EventKind.RECOVERED and e.pts > incident.opened_pts]
    end = min(clip.duration, opened + (ups[0] - incident.opened_pts)) if ups else clip.duration
    return round(start, 2), round(max(end, start + 0.1), 2)


def _reviewer(changes: Sequence[IncidentChange]) -> IncidentChange | None:
    decisions = [c for c in changes if c.field == "status" and c.by != ENGINE_USER]
    return decisions[-1] if decisions else None


@dataclass(slots=True)
class ExportReport:
    folder: Path
    falls: int = 0
    false_alarms: int = 0
    skipped: list[str] = field(default_factory=list)  # "incident 7: clip deleted by retention", ...

    @property
    def clips(self) -> int:
        return self.falls + self.false_alarms


def training_export(
    store: Store, media: MediaRoot, settings: Settings, folder: Path, user: User, query: IncidentQuery
) -> ExportReport:
    """Write manifest.csv and clips/ for the reviewed incidents matching `query` into `folder` (new)."""
    folder.mkdir(parents=True, exist_ok=False)
    (folder / "clips").mkdir()
    report = ExportReport(folder)
    rows = []
    reviewed = IncidentQuery(
        query.cameras, query.kinds, query.severities, REVIEWED, query.since, query.until, 1_000_000
    )
    for incident in reversed(store.incidents.query(reviewed)):  # oldest first
        row = _export_one(store, media, settings, folder, incident, user)
        if isinstance(row, str):
            report.skipped.append(f"incident {incident.id}: {row}")
            continue
        rows.append(row)
        if row["label"] == "fall":
            report.falls += 1
        else:
            report.false_alarms += 1
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return report


def _export_one(
    store: Store, media: MediaRoot, settings: Settings, folder: Path, incident: Incident, user: User
) -> dict[str, str] | str:
    """One manifest row with its clip copied, or why the incident was left out."""
    del user  # exporting evidence needs someone signed in, like viewing it
    if incident.clip_path is None:
        return "no clip was recorded"
    try:
        source = media.resolve(incident.clip_path)
    except MediaRefused as exc:
        return str(exc)
    if not source.is_file():
        return "clip deleted by retention"
    try:
        clip = probe_clip(source)
    except (ValueError, OSError) as exc:
        return f"clip unreadable ({exc})"
    fall = incident.status is not Status.FALSE_ALARM
    name = f"clips/{incident.id:06d}_{safe_name(incident.camera)}_{'fall' if fall else 'adl'}.mp4"
    shutil.copyfile(source, folder / name)
    start, end = (
        fall_interval(
            incident,
            store.incidents.events(incident.id),
            clip,
            settings.media.pre_roll_s,
            settings.dashboard.export_margin_s,
        )
        if fall
        else ("", "")
    )
    decision = _reviewer(store.incidents.changes(incident.id))
    who = f"{decision.new} by {decision.by} at {_iso(decision.at)}" if decision else incident.status.value
    notes = "; ".join(
        part
        for part in (
            f"FallWatch incident {incident.id} ({incident.kind.value}, {incident.severity.value})",
            f"zone {incident.zone}" if incident.zone else "",
            " | ".join(incident.notes.splitlines()),
        )
        if part
    )
    return {
        "path": name,
        "source": SOURCE,
        "label": "fall" if fall else "adl",
        "fall_start_s": str(start),
        "fall_end_s": str(end),
        "fps": str(clip.fps),
        "frames": str(clip.frames),
        "width": str(clip.width),
        "height": str(clip.height),
        "subject_or_scene": f"{SOURCE}:{incident.camera}",  # one camera's clips stay on one side of a split
        "crop": "",
        "annotation": f"operator review: {who}",
        "notes": notes,
        "commit": "",
        "repo_path": incident.clip_path,
    }


def zip_folder(folder: Path) -> bytes:
    """The export as one .zip (clips are already compressed: stored, not deflated)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
    return out.getvalue()
