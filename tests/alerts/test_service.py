"""End to end over a real clip: frames and predictions in; incident, evidence and a signed webhook out."""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import pytest

from fallwatch.alerts.notifiers.notifier import Notifier
from fallwatch.alerts.records import Outcome
from fallwatch.alerts.service import AlertService
from fallwatch.alerts.store import open_store
from fallwatch.core.config import Settings, load_settings
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import Box, EventKind, Prediction, Severity
from tests.alerts.conftest import F, L, N
from tests.alerts.receiver import Receiver
from tests.alerts.test_media import frames

SECRET = "service-test-secret"


def scripted(pts: float) -> dict[str, float]:
    """What a recognizer might say about the person in the clip: standing, falling at 4 s, then lying."""
    return N if pts < 4.0 else F if pts < 5.0 else L


def test_a_fall_in_a_real_clip_is_stored_with_evidence_and_delivered_signed(
    tmp_path: Path, fall_clip: ManifestEntry
) -> None:
    receiver = Receiver(SECRET).start()
    data_dir = tmp_path / "data"  # not there yet: the default SQLite store creates it
    settings = load_settings(
        data_dir=data_dir,
        alerts={"collapse_after_s": 5.0},
        media={"pre_roll_s": 2.0, "post_roll_s": 2.0},
        notify={
            "webhooks": [{"name": "ops", "url": receiver.url}],
            "media_base_url": "https://fw.example/media",
        },
    )
    service = AlertService.from_settings(settings, run_id="e2e:")
    box = (200.0, 150.0, 330.0, 470.0)
    for frame in frames(fall_clip.path, "hall", every=2):
        service.on_frame(frame)
        if frame.index % 4 == 0:  # a prediction every other analysed frame, as a tubelet stride would give
            service.on_prediction(Prediction("hall", 7, frame.pts, scripted(frame.pts), box))
    assert service.close(timeout_s=30)
    assert [e.kind for e in service.events] == [EventKind.OPENED, EventKind.ESCALATED, EventKind.CLOSED]

    store = open_store(f"sqlite:///{data_dir / 'fallwatch.db'}")
    [incident] = store.incidents.query()
    assert incident.key.startswith("e2e:hall/7/") and incident.kind.value == "collapse"
    assert incident.snapshot_path and (data_dir / "media" / incident.snapshot_path).is_file()
    assert incident.clip_path and (data_dir / "media" / incident.clip_path).is_file()
    with av.open(str(data_dir / "media" / incident.clip_path)) as clip:
        assert sum(1 for _ in clip.decode(video=0)) > 20

    notifier = Notifier(store, settings.notify, SECRET)
    try:
        while notifier.run_once():
            pass
    finally:
        notifier.close()
        receiver.stop()
    bodies = sorted(receiver.applied.values(), key=lambda b: int(b["sequence"]))
    assert [b["event"] for b in bodies] == ["incident.opened", "incident.escalated", "incident.closed"]
    assert bodies[0]["snapshot_url"] == f"https://fw.example/media/{incident.snapshot_path}"
    assert receiver.bad_signatures == 0
    assert json.loads(store.outbox.entries()[0].payload)["incident_id"] == incident.id
    store.close()


def test_a_bad_database_url_is_refused_before_anything_starts(tmp_path: Path) -> None:
    from fallwatch.core.errors import FallWatchError

    settings = load_settings(data_dir=tmp_path, store={"url": "postgres+foo://x@y/z"})
    with pytest.raises(FallWatchError, match="database URL"):
        AlertService.from_settings(settings)


def _killed_mid_incident(settings: Settings, clip: Path, box: Box) -> None:
    """Worker w-a sees the fall and opens the incident, then dies before the collapse: nothing closes it."""
    service = AlertService.from_settings(settings, run_id="w-a/")
    for frame in frames(clip, "hall", every=2):
        if frame.pts >= 6.0:
            break
        service.on_frame(frame)
        if frame.index % 4 == 0:
            service.on_prediction(Prediction("hall", 7, frame.pts, scripted(frame.pts), box))
    assert [e.kind for e in service.events] == [EventKind.OPENED]
    assert service.writer.stop(30)  # what it wrote reached the store; the engine's state dies with it


def test_a_collapse_after_the_worker_was_killed_is_told_by_its_successor(
    tmp_path: Path, fall_clip: ManifestEntry
) -> None:
    # Regression: the incident stayed open for ever and its collapse was never told, since the next worker's
    # engine opens incidents only on a fall it sees itself.
    settings = load_settings(
        data_dir=tmp_path / "data",
        alerts={"collapse_after_s": 5.0},
        notify={"webhooks": [{"name": "ops", "url": "http://127.0.0.1:9/hook"}]},  # queued, not sent here
    )
    box = (200.0, 150.0, 330.0, 470.0)
    _killed_mid_incident(settings, fall_clip.path, box)
    successor = AlertService.from_settings(settings, run_id="w-b/")
    assert successor.take_over("hall") == 1
    for frame in frames(fall_clip.path, "hall", every=2):  # the person still lies there
        successor.on_frame(frame)
        if frame.index % 4 == 0 and frame.pts >= 1.0:
            successor.on_prediction(Prediction("hall", 2, frame.pts, L, box))
    assert successor.close(timeout_s=30)
    assert [e.kind for e in successor.events] == [EventKind.ESCALATED, EventKind.CLOSED]

    with open_store(f"sqlite:///{tmp_path / 'data' / 'fallwatch.db'}") as store:
        [incident] = store.incidents.query()
        assert incident.key.startswith("w-a/hall/7/") and incident.kind.value == "collapse"
        assert incident.severity is Severity.CRITICAL and incident.outcome is Outcome.CLOSED
        kinds = [e.kind for e in store.incidents.events(incident.id)]
        assert kinds == [EventKind.OPENED, EventKind.ESCALATED, EventKind.CLOSED]
        assert [json.loads(e.payload)["event"] for e in store.outbox.entries()] == [
            "incident.opened", "incident.escalated", "incident.closed",
        ]  # fmt: skip


def test_an_old_incident_left_in_progress_is_closed_by_the_next_run(
    tmp_path: Path, fall_clip: ManifestEntry
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", alerts={"collapse_after_s": 5.0, "carry_over_s": 0.01}
    )
    box = (200.0, 150.0, 330.0, 470.0)
    _killed_mid_incident(settings, fall_clip.path, box)
    time.sleep(0.05)  # older than carry_over_s
    successor = AlertService.from_settings(settings, run_id="w-b/")
    assert successor.take_over("hall") == 1
    for frame in frames(fall_clip.path, "hall", every=2):
        successor.on_frame(frame)
        if frame.index % 4 == 0 and frame.pts >= 1.0:
            successor.on_prediction(Prediction("hall", 2, frame.pts, L, box))
    assert successor.close(timeout_s=30)
    assert [e.kind for e in successor.events] == [EventKind.CLOSED]
    with open_store(f"sqlite:///{tmp_path / 'data' / 'fallwatch.db'}") as store:
        [incident] = store.incidents.query()
        assert incident.outcome is Outcome.CLOSED and incident.kind.value == "fall"
        assert store.incidents.in_progress("hall") == []
