"""The health decision: what is analysed per second, when a camera is behind, what /healthz says."""

from __future__ import annotations

import logging

import pytest

from fallwatch.alerts.records import CameraState
from fallwatch.app.health import (
    RECOVERY_MARGIN,
    AnalysisMonitor,
    CameraHealth,
    Health,
    RecentRate,
    is_behind,
    overall,
)
from fallwatch.app.run_command import CameraStatusReporter
from fallwatch.core.config import CameraConfig, IngestConfig
from fallwatch.core.manifest import ManifestEntry
from fallwatch.ingest.cameras import Camera

UNREACHABLE = "http://127.0.0.1:9/live.ts"  # a live camera that is never started: only its counters are used


def test_recent_rate_is_the_growth_over_the_window() -> None:
    rate = RecentRate(window_s=10)
    for second in range(31):
        rate.observe(second * 5, now=float(second))  # 5 per second
    assert rate.per_second(30.0) == pytest.approx(5.0)
    rate.observe(150, now=45.0)  # nothing for 15 s: a stuck loop reads 0, not its old rate
    assert rate.per_second(45.0) == 0.0


def test_recent_rate_of_a_young_window_uses_the_time_it_has() -> None:
    rate = RecentRate(window_s=10)
    rate.observe(0, now=0.0)
    rate.observe(8, now=2.0)
    assert rate.per_second(2.0) == pytest.approx(4.0)  # 8 in 2 s, not 8 in 10 s


def test_behind_only_when_under_the_floor_while_frames_are_skipped() -> None:
    assert is_behind(1.2, floor_fps=2.0, skipped_recently=True, was_behind=False)
    assert not is_behind(2.5, floor_fps=2.0, skipped_recently=True, was_behind=False)
    # A source slower than the floor with nothing skipped is a slow camera, not a blind FallWatch.
    assert not is_behind(1.0, floor_fps=2.0, skipped_recently=False, was_behind=False)
    # Once behind, a camera stays so until clearly over the floor, so a rate hovering at it does not flap.
    assert is_behind(2.0 * RECOVERY_MARGIN - 0.01, floor_fps=2.0, skipped_recently=True, was_behind=True)
    assert not is_behind(2.0 * RECOVERY_MARGIN + 0.01, floor_fps=2.0, skipped_recently=True, was_behind=True)


def _health(live: bool = True, connected: bool = True, behind: bool = False) -> CameraHealth:
    fps = 1.2 if behind else 10.0
    return CameraHealth("yard", live, connected, fps, fps, 10.0, 2.0, behind, behind)


def test_overall_health_is_the_worst_camera() -> None:
    assert overall([_health(), _health(live=False, connected=False)]) is Health.OK  # a finished file is fine
    assert overall([_health(), _health(behind=True)]) is Health.DEGRADED
    assert overall([_health(behind=True), _health(connected=False)]) is Health.DOWN


def _live_camera(name: str = "yard", fps: float | None = None) -> Camera:
    camera = Camera(name, CameraConfig(source=UNREACHABLE, fps=fps), IngestConfig(min_analysed_fps=2))
    camera.stats.connected = True
    return camera


def test_monitor_turns_a_starved_live_camera_behind_names_it_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    camera = _live_camera()
    monitor = AnalysisMonitor([camera], IngestConfig(min_analysed_fps=2), now=0.0)
    caplog.set_level(logging.WARNING, logger="fallwatch.app.health")
    for second in range(1, 21):  # 10 picked per second, 1 analysed, the rest skipped
        camera.counts.picked += 10
        camera.counts.analysed += 1
        camera.counts.dropped += 9
        health = monitor.check(now=float(second))["yard"]
    assert health.behind and health.analysed_fps == pytest.approx(1.0)
    assert health.summary == "analysing 1.0 of 10 fps (minimum 2)"
    assert [r.getMessage() for r in caplog.records] == [
        "yard is behind: analysing 1.0 of 10 fps (minimum 2); falls on it may be missed"
    ]
    for second in range(21, 41):  # the load is gone: everything picked is analysed
        camera.counts.analysed += 10
        health = monitor.check(now=float(second))["yard"]
    assert not health.behind
    assert len(caplog.records) == 2 and caplog.records[1].getMessage().startswith("yard caught up")


def test_a_stuck_analysis_loop_is_behind_at_zero() -> None:
    camera = _live_camera()
    monitor = AnalysisMonitor([camera], IngestConfig(min_analysed_fps=2), now=0.0)
    camera.counts.picked, camera.counts.dropped = 100, 68  # the queue filled and dropped; nothing analysed
    health = monitor.check(now=10.0)["yard"]
    assert health.behind and health.analysed_fps == 0.0


def test_a_camera_configured_under_the_floor_is_judged_against_its_own_rate() -> None:
    camera = _live_camera(fps=1.0)
    monitor = AnalysisMonitor([camera], IngestConfig(min_analysed_fps=2), now=0.0)
    for second in range(1, 11):
        camera.counts.picked += 1
        camera.counts.analysed += 1
        camera.counts.dropped += 1 if second == 5 else 0
        health = monitor.check(now=float(second))["yard"]
    assert health.floor_fps == 1.0 and not health.behind


def test_healthz_report_says_degraded_and_names_the_camera() -> None:
    camera = _live_camera()
    monitor = AnalysisMonitor([camera], IngestConfig(min_analysed_fps=2), now=0.0)
    camera.counts.picked, camera.counts.analysed, camera.counts.dropped = 100, 12, 80
    healthy, body = monitor.report(now=10.0)
    assert not healthy and body["status"] == "degraded"
    assert list(body["behind"]) == ["yard"] and body["behind"]["yard"].startswith("analysing ")
    assert body["cameras"]["yard"]["picked"] == 100 and body["cameras"]["yard"]["skipped"] == 80
    camera.stats.connected = False
    assert monitor.report(now=11.0)[1]["status"] == "down"


def test_a_file_is_never_behind(fall_clip: ManifestEntry) -> None:
    camera = Camera("clip", CameraConfig(source=str(fall_clip.path)), IngestConfig())
    monitor = AnalysisMonitor([camera], IngestConfig(), now=0.0)
    camera.counts.picked, camera.counts.dropped = 100, 100
    assert not monitor.check(now=10.0)["clip"].behind


def test_status_row_says_behind_with_the_rate() -> None:
    state, detail = CameraStatusReporter.state_of(_health(behind=True))
    assert state is CameraState.BEHIND and detail == "analysing 1.2 of 10 fps (minimum 2)"
    assert CameraStatusReporter.state_of(_health()) == (CameraState.CONNECTED, None)
    assert CameraStatusReporter.state_of(_health(connected=False))[0] is CameraState.RECONNECTING
    assert CameraStatusReporter.state_of(_health(behind=True), final=True)[0] is CameraState.STOPPED


def test_the_floor_cannot_exceed_the_rate() -> None:
    with pytest.raises(ValueError, match="min_analysed_fps"):
        IngestConfig(fps=5, min_analysed_fps=6)
