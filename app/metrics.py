"""Prometheus metrics and a health endpoint for a running pipeline, on one small HTTP server.

`/metrics` is the Prometheus text format; `/healthz` is JSON with each camera's state, 200 while every live
camera is connected and 503 otherwise (a load balancer or Kubernetes probe reads the status code).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from fallwatch.ingest.sources import SourceStats

STAGE_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
HealthReport = Callable[[], tuple[bool, dict[str, Any]]]


class PipelineMetrics:
    """Per-camera counters and per-stage latency, in a registry of their own (one per pipeline)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        per_camera = ["camera"]
        self.decoded = Counter(
            "fallwatch_frames_decoded", "Frames decoded", per_camera, registry=self.registry
        )
        self.analysed = Counter(
            "fallwatch_frames_analysed", "Frames analysed", per_camera, registry=self.registry
        )
        self.dropped = Counter(
            "fallwatch_frames_dropped", "Live frames dropped (queue full)", per_camera, registry=self.registry
        )
        self.corrupt = Counter(
            "fallwatch_packets_corrupt", "Corrupt packets skipped", per_camera, registry=self.registry
        )
        self.reconnects = Counter(
            "fallwatch_reconnects", "Live source reconnects", per_camera, registry=self.registry
        )
        self.fps = Gauge(
            "fallwatch_analysed_fps",
            "Analysed frames per second (wall clock)",
            per_camera,
            registry=self.registry,
        )
        self.connected = Gauge(
            "fallwatch_camera_connected",
            "1 while the camera's source is connected",
            per_camera,
            registry=self.registry,
        )
        self.incidents = Counter(
            "fallwatch_incident_events", "Incident events emitted", ["camera", "kind"], registry=self.registry
        )
        self.stage = Histogram("fallwatch_stage_seconds", "Wall time of a pipeline stage per batch", ["stage"],
                               buckets=STAGE_BUCKETS, registry=self.registry)  # fmt: skip
        self._last: dict[str, SourceStats] = {}

    def update_camera(self, camera: str, stats: SourceStats, fps: float) -> None:
        """Counters advance by what the source's own totals grew since the last call."""
        last = self._last.get(camera, SourceStats())
        for counter, now, before in (
            (self.decoded, stats.decoded, last.decoded),
            (self.analysed, stats.analysed, last.analysed),
            (self.dropped, stats.dropped, last.dropped),
            (self.corrupt, stats.corrupt, last.corrupt),
            (self.reconnects, stats.reconnects, last.reconnects),
        ):
            if now > before:
                counter.labels(camera).inc(now - before)
        self._last[camera] = SourceStats(
            stats.decoded, stats.analysed, stats.dropped, stats.corrupt, stats.reconnects
        )
        self.fps.labels(camera).set(fps)
        self.connected.labels(camera).set(1 if stats.connected else 0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """Serves `/metrics` and `/healthz` on a background thread."""

    def __init__(
        self, metrics: PipelineMetrics, health: HealthReport, port: int, address: str = "127.0.0.1"
    ) -> None:
        handler = _handler(metrics, health)
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


def _handler(metrics: PipelineMetrics, health: HealthReport) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, metrics.render())
            elif self.path in ("/healthz", "/health"):
                healthy, report = health()
                self._reply(200 if healthy else 503, "application/json", json.dumps(report).encode())
            else:
                self._reply(404, "text/plain", b"not found: try /metrics or /healthz\n")

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
