"""Fixtures for the dashboard tests: a real store filled through its own API from the real alert engine, with a
real snapshot and clip recorded by alerts/media.py from a GMDCSA24 fall clip, and settings in a YAML file."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from fallwatch.alerts.engine import AlertEngine
from fallwatch.alerts.media import EvidenceRecorder
from fallwatch.alerts.records import MediaRefs, WriteItem, utcnow
from fallwatch.alerts.store import Store, open_store
from fallwatch.core.config import AlertsConfig, MediaConfig
from fallwatch.core.manifest import ManifestEntry
from fallwatch.core.types import EventKind, Frame, Prediction
from fallwatch.dashboard.launch import CONFIG_ENV, DATA_DIR_ENV, STORE_URL_ENV
from fallwatch.dashboard.passwords import hash_password
from tests.conftest import FALLDATA

REPO = Path(__file__).resolve().parents[2]
FALLDATA_MANIFEST = FALLDATA / "manifest.csv"
APP = REPO / "dashboard" / "app.py"
CAMERA = "ward-1"
NURSE, NURSE_PASSWORD = "nurse", "night-shift-2025"  # in the settings file, as a hash
CARER, CARER_PASSWORD = "carer", "carer-password-1"  # in the database, as a hash
N = {"normal": 0.9, "falling": 0.05, "lying": 0.05}
F = {"normal": 0.05, "falling": 0.9, "lying": 0.05}
L = {"normal": 0.05, "falling": 0.05, "lying": 0.9}
BOX = (245.0, 25.0, 425.0, 405.0)  # where the person stands in the snapshot, source pixels
ZONES = {
    CAMERA: [{"name": "bed", "kind": "rest", "points": [[400, 250], [630, 250], [630, 470], [400, 470]]}]
}


@dataclass(frozen=True)
class Evidence:
    root: Path  # the media root
    refs: MediaRefs  # the snapshot and clip, relative to it
    opened_pts: float


def _frames(clip: Path, camera: str) -> Iterator[Frame]:
    with av.open(str(clip)) as container:
        for index, video in enumerate(container.decode(video=0), start=1):
            image = np.asarray(video.to_ndarray(format="bgr24"), dtype=np.uint8)
            yield Frame(camera, index, float(video.time or 0.0), time.time(), image)


def record_evidence(root: Path, clip: Path) -> Evidence:
    """A snapshot and a clip of a real fall, written under `root` by the evidence recorder as a worker would."""
    recorder = EvidenceRecorder(MediaConfig(pre_roll_s=4.0, post_roll_s=4.0, buffer_frames=200), root)
    refs, opened = None, 0.0
    for frame in _frames(clip, CAMERA):
        recorder.push(frame)
        if refs is None and frame.pts >= 7.0:
            opened = frame.pts
            refs = recorder.start(f"test:{CAMERA}/1/{frame.pts:.3f}", CAMERA, frame.pts, datetime.now(UTC))
    recorder.finish()
    assert refs is not None and refs.clip and (root / refs.clip).is_file()
    return Evidence(root, refs, opened)


@pytest.fixture(scope="session")
def evidence(tmp_path_factory: pytest.TempPathFactory, fall_clip: ManifestEntry) -> Evidence:
    """Evidence of a real fall (GMDCSA24 Subject 2 Fall 12, MIT), shared by the session's tests (read-only)."""
    return record_evidence(tmp_path_factory.mktemp("media"), fall_clip.path)


def engine_items(
    camera: str,
    track: int,
    start: float,
    stay_down_s: float,
    media: MediaRefs | None = None,
    get_up: bool = True,
) -> list[WriteItem]:
    """Write items made by the real engine: a fall at `start`, lying still, then (maybe) getting up."""
    engine = AlertEngine(AlertsConfig(smoothing=1.0), run_id=f"{uuid.uuid4().hex[:6]}:")
    rows = [(start + 0.5 * i, F) for i in range(2)]
    rows += [(start + 1.0 + 0.5 * i, L) for i in range(int(stay_down_s * 2))]
    if get_up:
        rows += [(start + 1.0 + stay_down_s + 0.5 * i, N) for i in range(3)]
    alerts = [a for pts, scores in rows for a in engine.feed(Prediction(camera, track, pts, scores, BOX))]
    if get_up:
        alerts += engine.finish()
    return [
        WriteItem(
            uuid.uuid4().hex,
            a.event,
            utcnow(),
            a.zone,
            a.samples,
            media if a.event.kind is EventKind.OPENED else None,
            a.box,
        )
        for a in alerts
    ]


@dataclass(frozen=True)
class Site:
    url: str
    data_dir: Path
    config: Path
    evidence: Evidence

    def store(self) -> Store:
        return open_store(self.url)


@pytest.fixture
def site(tmp_path: Path, evidence: Evidence, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A store with two incidents (a fall that escalated to a collapse with evidence, and a short fall), users
    in the settings file and in the database, and the dashboard's environment pointing at them."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"sqlite:///{data_dir / 'fallwatch.db'}"
    config = tmp_path / "fallwatch.yaml"
    settings = {
        "media": {"root": str(evidence.root), "pre_roll_s": 4.0, "post_roll_s": 4.0},
        "alerts": {"zones": ZONES},
        "dashboard": {"users": {NURSE: hash_password(NURSE_PASSWORD)}, "refresh_s": 2},
        "cameras": {
            CAMERA: {"source": "rtsp://192.0.2.10/stream"},
            "hall": {"source": "rtsp://192.0.2.11/s"},
        },
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    with open_store(url) as store:
        for item in engine_items(CAMERA, 3, evidence.opened_pts - 1.0, 12.0, evidence.refs):
            store.incidents.apply(item)
        for item in engine_items("hall", 1, 30.0, 2.0):
            store.incidents.apply(item)
        store.users.set(CARER, hash_password(CARER_PASSWORD))
    monkeypatch.setenv(CONFIG_ENV, str(config))
    monkeypatch.setenv(STORE_URL_ENV, url)
    monkeypatch.setenv(DATA_DIR_ENV, str(data_dir))
    monkeypatch.delenv("FALLWATCH_DASHBOARD_SECRET", raising=False)
    yield Site(url, data_dir, config, evidence)


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=60)


def signed_in(name: str = NURSE, password: str = NURSE_PASSWORD) -> AppTest:
    at = app().run()
    sign_in(at, name, password)
    return at


def sign_in(at: AppTest, name: str, password: str) -> None:
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()


def texts(at: AppTest) -> str:
    """Everything the page says, in one string, for assertions about what a person would read."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "title", "subheader", "info", "error", "success", "warning")
        for e in getattr(at, kind)
    ]
    parts += [str(m.label) + " " + str(m.value) for m in at.metric]
    return "\n".join(str(p) for p in parts)


def embedded(at: AppTest, tag: str) -> list[str]:
    """The pictures ("img") or clips ("video") that dashboard/embedded_media.py put in the page, as HTML."""
    return [h.value for h in at.html if f"<{tag} " in h.value]
