"""The metrics server: every per-camera series from the start, counts that say what was really analysed, and a
`/healthz` whose status code a probe can act on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from fallwatch.app.health import AnalysisMonitor
from fallwatch.app.metrics import MetricsServer, PipelineMetrics
from fallwatch.core.config import CameraConfig, IngestConfig
from fallwatch.core.types import EventKind
from fallwatch.detectors.motion import GateCounts
from fallwatch.ingest.cameras import Camera

UNREACHABLE = "http://127.0.0.1:9/live.ts"  # never started: only its counters are used


def _samples(metrics: PipelineMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}  # fmt: skip


def test_every_per_camera_series_exists_at_zero_before_any_frame() -> None:
    samples = _samples(PipelineMetrics(["yard"]))
    yard = (("camera", "yard"),)
    for name in ("fallwatch_frames_decoded_total", "fallwatch_frames_picked_total",
                 "fallwatch_frames_analysed_total", "fallwatch_frames_dropped_total",
                 "fallwatch_frames_detected_total", "fallwatch_frames_gated_total",
                 "fallwatch_packets_corrupt_total", "fallwatch_reconnects_total", "fallwatch_analysed_fps",
                 "fallwatch_sampling_fps", "fallwatch_camera_behind", "fallwatch_camera_connected"):  # fmt: skip
        assert samples.get((name, yard)) == 0.0, name
    for reason in ("adaptation", "queue_full"):
        assert samples[("fallwatch_frames_skipped_total", (("camera", "yard"), ("reason", reason)))] == 0.0
    for kind in EventKind:
        assert samples[("fallwatch_incident_events_total", (("camera", "yard"), ("kind", kind.value)))] == 0.0


def _live_camera() -> Camera:
    camera = Camera("yard", CameraConfig(source=UNREACHABLE), IngestConfig())
    camera.stats.connected = True
    return camera


def test_analysed_and_skipped_are_counted_apart_from_picked() -> None:
    camera, metrics = _live_camera(), PipelineMetrics(["yard"])
    monitor = AnalysisMonitor([camera], IngestConfig(), now=0.0)
    camera.counts.picked, camera.counts.analysed, camera.counts.dropped, camera.counts.adapted = (
        100,
        12,
        30,
        50,
    )
    metrics.update_camera(camera, monitor.check(now=10.0)["yard"])
    camera.counts.picked, camera.counts.analysed = 110, 14
    metrics.update_camera(camera, monitor.check(now=11.0)["yard"])
    samples = _samples(metrics)
    yard = (("camera", "yard"),)
    assert samples[("fallwatch_frames_picked_total", yard)] == 110
    assert samples[("fallwatch_frames_analysed_total", yard)] == 14
    assert samples[("fallwatch_frames_skipped_total", (*yard, ("reason", "queue_full")))] == 30
    assert samples[("fallwatch_frames_skipped_total", (*yard, ("reason", "adaptation")))] == 50
    assert samples[("fallwatch_analysed_fps", yard)] == 14 / 10  # what was analysed, not what was picked
    assert samples[("fallwatch_camera_behind", yard)] == 1


def test_motion_gating_says_how_many_frames_the_detector_ran_on_and_skipped() -> None:
    camera, metrics = _live_camera(), PipelineMetrics(["yard"])
    monitor = AnalysisMonitor([camera], IngestConfig(), now=0.0)
    metrics.update_camera(camera, monitor.check(now=1.0)["yard"], GateCounts(detected=7, skipped=33))
    metrics.update_camera(camera, monitor.check(now=2.0)["yard"], GateCounts(detected=9, skipped=41))
    samples = _samples(metrics)
    yard = (("camera", "yard"),)
    assert samples[("fallwatch_frames_detected_total", yard)] == 9
    assert samples[("fallwatch_frames_gated_total", yard)] == 41


def test_healthz_is_503_degraded_naming_a_camera_behind() -> None:
    camera, metrics = _live_camera(), PipelineMetrics(["yard"])
    monitor = AnalysisMonitor([camera], IngestConfig(), window_s=3600)  # the counts below fall in the window
    camera.counts.picked, camera.counts.analysed, camera.counts.dropped = 100, 1, 90
    server = MetricsServer(metrics, monitor.report, port=0).start()
    try:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
            raise AssertionError("a camera behind must not answer 200")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503
            body = json.loads(exc.read())
    finally:
        server.stop()
    assert body["status"] == "degraded" and list(body["behind"]) == ["yard"]
    assert body["behind"]["yard"].startswith("analysing ") and body["cameras"]["yard"]["behind"] is True
