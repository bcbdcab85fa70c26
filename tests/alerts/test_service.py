"""End to end over a real clip: frames and predictions in; incident, evidence and a signed webhook out."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from fallwatch.alerts.notifiers.notifier import Notifier
from fallwatch.alerts.service import AlertService
from fallwatch.alerts.store import open_store
from fallwatch.core.config import load_settings
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import EventKind, Prediction
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
