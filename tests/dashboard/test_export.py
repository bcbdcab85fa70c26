"""Exports: the incident CSV, and reviewed incidents as a falldata-format training set read back by
core/manifest.py (what `fallwatch train` reads)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from fallwatch.alerts.records import IncidentQuery, Status
from fallwatch.core.config import load_settings
from fallwatch.core.manifest import read_manifest
from fallwatch.core.types import EventKind
from fallwatch.dashboard.export import (
    CSV_COLUMNS,
    MANIFEST_COLUMNS,
    fall_interval,
    incidents_csv,
    training_export,
)
from fallwatch.dashboard.media import MediaRoot
from fallwatch.dashboard.users import User
from fallwatch.ingest.probe import probe_clip
from tests.dashboard.conftest import CAMERA, FALLDATA_MANIFEST, NURSE, Site, engine_items


def test_the_csv_has_one_row_per_incident(site: Site) -> None:
    with site.store() as store:
        incidents = store.incidents.query(IncidentQuery())
    rows = list(csv.DictReader(io.StringIO(incidents_csv(incidents).decode())))
    assert list(rows[0]) == CSV_COLUMNS
    assert [(r["id"], r["camera"], r["kind"], r["status"]) for r in rows] == [
        ("2", "hall", "fall", "open"),
        ("1", CAMERA, "collapse", "open"),
    ]


def test_reviewed_incidents_become_labelled_clips(site: Site) -> None:
    with site.store() as store:
        # A third incident with the same evidence, judged a false alarm: it becomes an `adl` clip.
        for item in engine_items("hall", 4, 60.0, 1.0, site.evidence.refs):
            store.incidents.apply(item)
        store.incidents.acknowledge(1, NURSE, "fell by the bed")
        store.incidents.mark_false_alarm(3, NURSE, "bending to pick up a towel")
        settings = load_settings(site.config)
        folder = site.data_dir / "exports" / "one"
        report = training_export(
            store, MediaRoot(site.evidence.root), settings, folder, User(NURSE), IncidentQuery()
        )
        opened = store.incidents.get(1).opened_pts
    assert (report.falls, report.false_alarms, report.skipped) == (1, 1, [])
    with (folder / "manifest.csv").open(newline="") as fh, FALLDATA_MANIFEST.open(newline="") as falldata:
        header = next(csv.reader(fh))
        assert header == next(csv.reader(falldata)) == MANIFEST_COLUMNS
    fall, adl = read_manifest(folder / "manifest.csv")
    assert (fall.label, adl.label) == ("fall", "adl")
    assert fall.relative == f"clips/000001_{CAMERA}_fall.mp4" and fall.path.is_file()
    assert adl.fall_start_s is None and adl.fall_end_s is None
    clip = probe_clip(fall.path)
    assert (fall.frames, fall.width, fall.height) == (clip.frames, 640, 480) and abs(fall.fps - 15) < 1
    # The incident opened 4 s into the clip (the pre-roll); the fall is said to start a 2 s margin earlier.
    assert fall.fall_start_s == round(min(opened, 4.0) - 2.0, 2)
    assert fall.fall_end_s is not None and fall.fall_start_s < fall.fall_end_s <= clip.duration
    assert fall.group == f"fallwatch:{CAMERA}" and "fell by the bed" in fall.notes
    rows = list(csv.DictReader((folder / "manifest.csv").open()))
    assert rows[0]["annotation"].startswith(f"operator review: resolved by {NURSE}")  # the person had got up
    assert rows[1]["annotation"].startswith(f"operator review: false_alarm by {NURSE}")


def test_a_fall_ends_when_the_person_got_up(site: Site) -> None:
    with site.store() as store:
        incident = store.incidents.get(1)
        events = store.incidents.events(1)
    clip = probe_clip(site.evidence.root / str(site.evidence.refs.clip))
    up = next(e.pts for e in events if e.kind is EventKind.RECOVERED)
    start, end = fall_interval(incident, events, clip, pre_roll_s=4.0, margin_s=1.0)
    opened = min(incident.opened_pts, 4.0)
    assert start == round(opened - 1.0, 2)
    assert end == round(min(clip.duration, opened + up - incident.opened_pts), 2)
    assert incident.status is Status.OPEN


def test_zip_holds_the_export(site: Site, tmp_path: Path) -> None:
    from fallwatch.dashboard.export import zip_folder

    folder = tmp_path / "falldata-x"
    (folder / "clips").mkdir(parents=True)
    (folder / "manifest.csv").write_text(",".join(MANIFEST_COLUMNS) + "\n")
    (folder / "clips" / "a.mp4").write_bytes(b"x")
    with zipfile.ZipFile(io.BytesIO(zip_folder(folder))) as archive:
        assert sorted(archive.namelist()) == ["falldata-x/clips/a.mp4", "falldata-x/manifest.csv"]
