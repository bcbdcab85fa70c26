"""Every page with Streamlit's AppTest, signed in, against a real SQLite store filled by the real alert engine,
with a real snapshot and clip recorded from a GMDCSA24 fall."""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
import zipfile
from pathlib import Path

from streamlit.testing.v1 import AppTest

from fallwatch.alerts.engine import AlertEngine
from fallwatch.alerts.records import CameraState, IncidentQuery, MediaRefs, Status, WriteItem, utcnow
from fallwatch.core.config import AlertsConfig
from fallwatch.core.manifest import read_manifest
from fallwatch.core.types import Prediction
from fallwatch.dashboard.downloads import OFFERS, Offer
from tests.dashboard.conftest import (
    BOX,
    CAMERA,
    FALLDATA_MANIFEST,
    NURSE,
    F,
    L,
    N,
    Site,
    embedded,
    engine_items,
    signed_in,
    texts,
)


def _open(page: str, **params: str) -> AppTest:
    at = signed_in()
    at.query_params.update(params)
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


def test_incidents_lists_newest_first_with_counts_and_critical_first(site: Site) -> None:
    at = signed_in()
    assert [t.value for t in at.title] == ["Incidents"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Needs review"] == "2" and metrics["Critical, not taken"] == "1"
    rows = at.dataframe[0].value
    assert list(rows["#"]) == [2, 1]  # newest first
    assert list(rows["Severity"]) == ["Warning", "Critical"]
    assert "**1 critical** incident not yet taken." in texts(at)
    cards = [m.value for m in at.markdown if m.value.startswith("**") and " · #" in m.value]
    assert cards[0].startswith(f"**Collapse on {CAMERA}** · #1")  # the critical one first
    assert len(embedded(at, "img")) == 1  # the thumbnail of the only incident with a snapshot


def test_incidents_filters_by_camera_severity_status_and_time(site: Site) -> None:
    at = signed_in()
    at.multiselect(key="incidents_cameras").select("hall").run()
    assert list(at.dataframe[0].value["Camera"]) == ["hall"]
    at.multiselect(key="incidents_cameras").unselect("hall")
    at.multiselect(key="incidents_severities").select("critical").run()
    assert list(at.dataframe[0].value["#"]) == [1]
    at.multiselect(key="incidents_statuses").select("false_alarm").run()
    assert len(at.dataframe) == 0 and "No incidents match these filters." in texts(at)
    assert {m.label: m.value for m in at.metric}["Needs review"] == "0"
    at.multiselect(key="incidents_statuses").unselect("false_alarm")
    at.multiselect(key="incidents_severities").unselect("critical")
    at.selectbox(key="incidents_range").select("Last hour").run()
    assert len(at.dataframe[0].value) == 2  # both opened just now


def test_a_new_incident_shows_on_the_next_refresh_with_a_toast(site: Site) -> None:
    at = signed_in()
    with site.store() as store:
        for item in engine_items("corridor", 7, 50.0, 1.0):
            store.incidents.apply(item)
    at.run()  # what the fragment's timer does every refresh_s
    assert list(at.dataframe[0].value["#"])[:1] == [3]
    assert any("New: Fall on corridor (#3)" in t.value for t in at.toast)


def test_incident_detail_shows_evidence_timeline_history_and_records_decisions(site: Site) -> None:
    at = _open("incident", id="1")
    assert at.title[0].value == f"#1 · Collapse on {CAMERA}"
    [snapshot] = embedded(at, "img")
    assert (
        "with the person&#x27;s box</figcaption>" in snapshot and 'src="data:image/jpeg;base64,' in snapshot
    )
    [clip] = embedded(at, "video")
    assert 'src="data:video/mp4;base64,' in clip
    assert at.get("vega_lite_chart"), "the score timeline"
    history = at.dataframe[0].value
    assert list(history["Who"])[:1] == ["engine"] and "fall detected" in next(iter(history["What"]))

    at.text_input(key="decide_note").input("Resident helped up, no injury")
    next(b for b in at.button if b.label == "Acknowledge").click().run()
    assert not at.exception
    assert f"Incident #1 acknowledged by {NURSE}." in texts(at)
    with site.store() as store:
        incident = store.incidents.get(1)
        [decision] = [c for c in store.incidents.changes(1) if c.by == NURSE]
    # The person had already got up: acknowledging an incident that is over resolves it at once.
    assert incident.status is Status.RESOLVED and incident.updated_by == NURSE
    assert decision.field == "status" and decision.note == "Resident helped up, no injury"
    assert NURSE in list(at.dataframe[0].value["Who"])


def test_resolve_false_alarm_and_notes_record_the_user(site: Site) -> None:
    at = _open("incident", id="2")
    at.text_input(key="decide_note").input("Sitting on the floor on purpose")
    next(b for b in at.button if b.label == "False alarm").click().run()
    assert f"Incident #2 marked a false alarm by {NURSE}." in texts(at)
    assert [b.disabled for b in at.button if b.label in ("Acknowledge", "Resolve", "False alarm")] == [
        True
    ] * 3
    at.text_input(key="note_text").input("Reviewed the clip with the day shift")
    next(b for b in at.button if b.label == "Add note").click().run()
    with site.store() as store:
        incident = store.incidents.get(2)
        changes = store.incidents.changes(2)
    assert incident.status is Status.FALSE_ALARM
    assert [(c.field, c.by) for c in changes if c.by == NURSE] == [("status", NURSE), ("note", NURSE)]
    assert "Reviewed the clip with the day shift" in incident.notes


def test_an_unknown_incident_says_so(site: Site) -> None:
    at = _open("incident", id="99")
    assert "incident 99 not found" in at.error[0].value


def test_a_media_path_outside_the_media_root_is_refused_on_the_page(site: Site, tmp_path: Path) -> None:
    outside = tmp_path / "secret.jpg"
    outside.write_bytes((site.evidence.root / str(site.evidence.refs.snapshot)).read_bytes())
    with site.store() as store:
        items = engine_items("hall", 9, 80.0, 1.0)
        bad = MediaRefs(snapshot=f"../{'../' * 12}{str(outside).lstrip('/')}", clip=str(outside))
        store.incidents.apply(dataclasses.replace(items[0], media=bad))
        [incident] = store.incidents.query(IncidentQuery(cameras=("hall",), limit=1))
    at = _open("incident", id=str(incident.id))
    assert embedded(at, "img") == [] and embedded(at, "video") == []
    assert "'..' is refused" in at.error[0].value


def test_cameras_says_honestly_when_no_worker_has_reported(site: Site) -> None:
    at = _open("cameras")
    assert "No worker has reported yet" in texts(at)
    assert f"**{CAMERA}** :gray-badge[No report]" in texts(at)


def test_cameras_show_each_workers_report(site: Site) -> None:
    with site.store() as store:
        store.cameras.report(CAMERA, CameraState.CONNECTED, 9.7, 4, 1, site.evidence.refs.snapshot)
        store.cameras.report("hall", CameraState.RECONNECTING, 0.0, 0, 3, detail="connection refused")
    at = _open("cameras")
    said = texts(at)
    assert f"**{CAMERA}** :green-badge[Connected]" in said and "**hall** :orange-badge[Reconnecting]" in said
    assert "connection refused" in said and "1 of 2 cameras connected." in said
    assert {("fps", "9.7"), ("dropped", "4"), ("reconnects", "3")} <= {(m.label, m.value) for m in at.metric}
    assert len(embedded(at, "img")) == 1  # ward-1's recent frame; hall has none
    assert any(link.label.startswith("Last incident: #1") for link in at.get("page_link"))


def test_zones_are_drawn_on_the_latest_still_frame(site: Site) -> None:
    at = _open("zones")
    assert at.selectbox(key="zones_camera").value == CAMERA  # cameras with zones come first
    legend = at.dataframe[0].value
    assert list(legend["Zone"]) == ["bed"] and list(legend["Kind"]) == ["rest"]
    assert "on the snapshot of incident #1" in embedded(at, "img")[0]
    at.selectbox(key="zones_camera").select("hall").run()
    assert "No zones for hall." in texts(at)


def _link_key(at: AppTest, label: str) -> str:
    [link] = [b for b in at.get("link_button") if b.proto.label == label]
    url = str(link.proto.url)
    assert url.startswith("/fallwatch/download/"), url
    return url.rsplit("/", 1)[1]


def _offer(at: AppTest, label: str) -> Offer:
    """The download behind the page's link of that label, as the download route would find it."""
    offer = OFFERS.live(_link_key(at, label), NURSE)
    assert offer is not None, f"{label}: no live offer"
    return offer


def test_exports_write_a_falldata_manifest_of_reviewed_incidents(site: Site) -> None:
    with site.store() as store:
        store.incidents.acknowledge(1, NURSE, "fell by the bed")
        store.incidents.mark_false_alarm(2, NURSE, "sat down on purpose")
    at = _open("exports")
    assert not at.get("download_button"), "Streamlit's download button serves files without a sign-in"
    csv_link = _offer(at, "Download CSV")
    assert csv_link.owner == NURSE and csv_link.file_name.startswith("fallwatch-incidents-")
    assert csv_link.produce().decode().startswith("id,")
    next(b for b in at.button if b.label == "Write training export").click().run()
    assert not at.exception
    assert "Wrote 1 falls and 0 false alarms" in texts(at)  # incident 2 has no clip
    assert OFFERS.live(_link_key(at, "Download CSV"), NURSE) is not None
    with zipfile.ZipFile(io.BytesIO(_offer(at, "Download as .zip").produce())) as archive:
        assert any(name.endswith("/manifest.csv") for name in archive.namelist())
    assert "Left out: incident 2: no clip was recorded" in texts(at)
    [folder] = (site.data_dir / "exports").iterdir()
    with (folder / "manifest.csv").open(newline="") as fh, FALLDATA_MANIFEST.open(newline="") as falldata:
        assert next(csv.reader(fh)) == next(csv.reader(falldata))  # exactly falldata's columns
    [entry] = read_manifest(folder / "manifest.csv")
    assert entry.label == "fall" and entry.path.is_file() and entry.group == f"fallwatch:{CAMERA}"
    assert entry.fall_start_s is not None and entry.fall_end_s is not None
    assert 0 <= entry.fall_start_s < entry.fall_end_s


def test_the_css_survives_streamlits_html_sanitiser() -> None:
    """A "<" anywhere inside the style element makes the sanitiser drop all of it (the page loses its look)."""
    from fallwatch.dashboard.style import CSS

    body = CSS.strip().removeprefix("<style>").removesuffix("</style>")
    assert "<" not in body


def test_a_person_who_fell_again_shows_as_down_with_the_second_fall_in_the_history(site: Site) -> None:
    engine = AlertEngine(AlertsConfig(smoothing=1.0), run_id="refall:")
    scores = [F, F, L, L, N, N, N, F, F, L]  # a fall, up again, and a second fall within the cooldown
    alerts = [a for i, s in enumerate(scores) for a in engine.feed(Prediction("hall", 4, 0.5 * i, s, BOX))]
    with site.store() as store:
        for alert in alerts:
            store.incidents.apply(
                WriteItem(uuid.uuid4().hex, alert.event, utcnow(), alert.zone, alert.samples, box=alert.box)
            )
        [incident] = store.incidents.query(IncidentQuery(cameras=("hall",), limit=1))
    at = _open("incident", id=str(incident.id))
    assert ":gray-badge[person still down]" in texts(at)
    [chart] = at.get("vega_lite_chart")
    assert "fell again" in str(chart.proto)  # the moment is marked on the chart, in words
    history = list(at.dataframe[0].value["What"])
    assert [w.split(" (")[0] for w in history if "score" in w] == [
        "fall detected",
        "person got up",
        "fell again",
    ]
    listed = _open("incidents")
    rows = listed.dataframe[0].value
    assert list(rows[rows["#"] == incident.id]["Person"]) == ["still down"]
    cards = [c.value for c in listed.caption if " · person " in c.value]
    assert sum("person still down" in c for c in cards) == 1  # its card; the two others got up
