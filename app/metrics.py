"""Prometheus metrics and a health endpoint for a running pipeline, on one small HTTP server.

`/metrics` is the Prometheus text format; `/livez` says whether the analysis loop still turns; `/healthz` is JSON with each camera's state: 200 with status `ok`, or
503 with status `down` (a live camera is disconnected) or `degraded` (a live camera is analysed too rarely; the
body names it and its rate). A load balancer or Kubernetes readiness probe reads the status code.

Every per-camera series exists, at zero, from the moment a camera is added, so that a rate or an alert on it
works before its first event (a reconnect counter that appears only at the first reconnect alerts on nothing).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from fallwatch.app.health import CameraHealth
from fallwatch.core.types import EventKind
from fallwatch.detectors.motion import GateCounts
from fallwatch.ingest.cameras import Camera

STAGE_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
SKIP_REASONS = ("queue_full", "adaptation")
HealthReport = Callable[[], tuple[bool, dict[str, Any]]]


class PipelineMetrics:
    """Per-camera counters and gauges and per-stage latency, in a registry of their own (one per pipeline)."""

    def __init__(self, cameras: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self.decoded = self._counter("fallwatch_frames_decoded", "Frames decoded")
        self.picked = self._counter(
            "fallwatch_frames_picked", "Frames due for analysis at the configured rate (ingest.fps)"
        )
        self.analysed = self._counter(
            "fallwatch_frames_analysed", "Frames the analysis loop finished (detector, tracker, recognizer)"
        )
        self.skipped = Counter("fallwatch_frames_skipped", "Frames due for analysis but never analysed, by reason "
                               "(queue_full: dropped from a full live queue; adaptation: the rate was lowered "
                               "under load)", ["camera", "reason"], registry=self.registry)  # fmt: skip
        self.detected = self._counter(
            "fallwatch_frames_detected", "Analysed frames the person detector ran on (motion, or keep-alive)"
        )
        self.gated = self._counter(
            "fallwatch_frames_gated",
            "Analysed frames whose detector run motion gating skipped (nothing moved: the last detections hold)",
        )
        self.dropped = self._counter("fallwatch_frames_dropped", "Live frames dropped (queue full)")
        self.corrupt = self._counter("fallwatch_packets_corrupt", "Corrupt packets skipped")
        self.reconnects = self._counter("fallwatch_reconnects", "Live source reconnects")
        self.fps = self._gauge(
            "fallwatch_analysed_fps", "Frames really analysed per second, last 10 s of wall time"
        )
        self.sampling_fps = self._gauge(
            "fallwatch_sampling_fps", "Rate frames are queued at now (under ingest.fps while load lowers it)"
        )
        self.behind = self._gauge(
            "fallwatch_camera_behind", "1 while a live camera is analysed under its floor"
        )
        self.connected = self._gauge("fallwatch_camera_connected", "1 while the camera's source is connected")
        self.incidents = Counter(
            "fallwatch_incident_events", "Incident events emitted", ["camera", "kind"], registry=self.registry
        )
        self.stage = Histogram("fallwatch_stage_seconds", "Wall time of a pipeline stage per batch", ["stage"],
                               buckets=STAGE_BUCKETS, registry=self.registry)  # fmt: skip
        self.lease_epoch = self._gauge(
            "fallwatch_camera_lease_epoch",
            "The lease epoch this worker holds the camera at (absent: not ours)",
        )
        self.worker = Gauge("fallwatch_worker_cameras", "Cameras this worker holds, by worker name", ["worker"],
                            registry=self.registry)  # fmt: skip
        self._last: dict[str, dict[str, int]] = {}  # per camera, each counter's total at the last update
        for camera in cameras:
            self.add_camera(camera)

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(name, documentation, ["camera"], registry=self.registry)

    def _gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(name, documentation, ["camera"], registry=self.registry)

    def add_camera(self, camera: str) -> None:
        """Creates every series of `camera` at zero (again is harmless)."""
        if camera in self._last:
            return
        for metric in (self.decoded, self.picked, self.analysed, self.detected, self.gated, self.dropped,
                       self.corrupt, self.reconnects, self.fps, self.sampling_fps, self.behind,
                       self.connected):  # fmt: skip
            metric.labels(camera)
        for reason in SKIP_REASONS:
            self.skipped.labels(camera, reason)
        for kind in EventKind:
            self.incidents.labels(camera, kind.value)
        self._last[camera] = {}

    def remove_camera(self, camera: str) -> None:
        """Drop `camera`'s gauges (another worker reports it now); counters stay, as Prometheus expects."""
        for gauge in (self.fps, self.sampling_fps, self.behind, self.connected, self.lease_epoch):
            with contextlib.suppress(KeyError):
                gauge.remove(camera)
        self._last.pop(camera, None)

    def update_leases(self, worker: str, held: dict[str, int]) -> None:
        """Which cameras this worker holds, at which epoch."""
        self.worker.labels(worker).set(len(held))
        for camera, epoch in held.items():
            self.lease_epoch.labels(camera).set(epoch)

    def update_camera(self, camera: Camera, health: CameraHealth, gate: GateCounts | None = None) -> None:
        """Counters advance by what the camera's own totals grew since the last call; gauges take `health`."""
        self.add_camera(camera.name)
        last = self._last[camera.name]
        totals = self._totals(camera)
        if gate is not None:
            totals += [("detected", self.detected.labels(camera.name), gate.detected),
                       ("gated", self.gated.labels(camera.name), gate.skipped)]  # fmt: skip
        for key, child, total in totals:
            if total > last.get(key, 0):
                child.inc(total - last.get(key, 0))
            last[key] = total
        self.fps.labels(camera.name).set(health.analysed_fps)
        self.sampling_fps.labels(camera.name).set(health.sampling_fps)
        self.behind.labels(camera.name).set(1 if health.behind else 0)
        self.connected.labels(camera.name).set(1 if camera.stats.connected else 0)

    def _totals(self, camera: Camera) -> list[tuple[str, Counter, int]]:
        name, stats, counts = camera.name, camera.stats, camera.counts
        return [
            ("decoded", self.decoded.labels(name), stats.decoded),
            ("picked", self.picked.labels(name), counts.picked),
            ("analysed", self.analysed.labels(name), counts.analysed),
            ("queue_full", self.skipped.labels(name, "queue_full"), counts.dropped),
            ("adaptation", self.skipped.labels(name, "adaptation"), counts.adapted),
            ("dropped", self.dropped.labels(name), counts.dropped),
            ("corrupt", self.corrupt.labels(name), stats.corrupt),
            ("reconnects", self.reconnects.labels(name), stats.reconnects),
        ]

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """Serves `/metrics`, `/healthz` and `/livez` on a background thread."""

    def __init__(
        self,
        metrics: PipelineMetrics,
        health: HealthReport,
        port: int,
        address: str = "127.0.0.1",
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        handler = _handler(metrics, health, alive)
        self._server = ThreadingHTTPServer((address, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(
    metrics: PipelineMetrics, health: HealthReport, alive: Callable[[], bool]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, metrics.render())
            elif self.path in ("/healthz", "/health"):
                healthy, report = health()
                self._reply(200 if healthy else 503, "application/json", json.dumps(report).encode())
            elif self.path == "/livez":
                # Liveness only: a camera behind or down is /healthz's business; restarting would not mend it.
                ok = alive()
                self._reply(200 if ok else 503, "text/plain", b"ok\n" if ok else b"analysis loop stuck\n")
            else:
                self._reply(404, "text/plain", b"not found: try /metrics, /healthz or /livez\n")

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(
            self, format: str, *args: Any
        ) -> None:  # scrapes every few seconds: not worth a log line
            return

    return Handler
