"""`fallwatch run`: every configured camera (or one --source) through the whole pipeline.

Files run to their end and the command exits 0 once their incidents, media and notifications are written; live
sources run until SIGINT or SIGTERM, which stop decoding, drain what is queued, close incidents and flush the
outbox before exit.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from fallwatch.alerts.media import encode_jpeg
from fallwatch.alerts.notifiers.notifier import Notifier
from fallwatch.alerts.records import CameraState, DeliveryStatus
from fallwatch.alerts.service import AlertService
from fallwatch.alerts.store import Store, StoreUnavailable, open_store, resolve_url
from fallwatch.app.metrics import MetricsServer, PipelineMetrics
from fallwatch.app.pipeline import Pipeline, RunResult
from fallwatch.core.config import CameraConfig, Settings, WebhookConfig, webhook_secret
from fallwatch.core.errors import FallWatchError
from fallwatch.core.files import write_atomic
from fallwatch.ingest.cameras import Camera
from fallwatch.recognizer.infer import Recognizer

log = logging.getLogger(__name__)

STATUS_JPEG_QUALITY = 80  # the Cameras page shows a thumbnail: small files matter more than detail


@dataclass(frozen=True, slots=True)
class RunOptions:
    sources: tuple[str, ...] = ()
    camera: str | None = None
    db: str | None = None
    media_dir: Path | None = None
    webhooks: tuple[str, ...] = ()


def apply_options(settings: Settings, options: RunOptions) -> Settings:
    """The settings with the command line's database, media folder, webhooks and sources folded in."""
    update: dict[str, object] = {}
    if options.db is not None:
        update["store"] = settings.store.model_copy(update={"url": options.db})
    if options.media_dir is not None:
        update["media"] = settings.media.model_copy(update={"root": options.media_dir})
    if options.webhooks:
        extra = [WebhookConfig(name=f"cli-{i}", url=url) for i, url in enumerate(options.webhooks, start=1)]
        update["notify"] = settings.notify.model_copy(
            update={"webhooks": [*settings.notify.webhooks, *extra]}
        )
    if options.sources:
        update["cameras"] = {_camera_name(options, source, i): CameraConfig(source=source)
                             for i, source in enumerate(options.sources)}  # fmt: skip
    return settings.model_copy(update=update)


def _camera_name(options: RunOptions, source: str, index: int) -> str:
    if options.camera and len(options.sources) == 1:
        return options.camera
    stem = "".join(c if c.isalnum() or c in "_.-" else "-" for c in Path(source.split("?")[0]).stem)[:60]
    return f"{stem or 'camera'}-{index + 1}" if len(options.sources) > 1 else (stem or "camera")


def build_cameras(settings: Settings) -> list[Camera]:
    cameras = [
        Camera(name, config, settings.ingest) for name, config in settings.cameras.items() if config.enabled
    ]
    if not cameras:
        raise FallWatchError(
            "no cameras to run: give --source PATH_OR_URL or add cameras: to the configuration"
        )
    return cameras


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM; a second signal interrupts at once."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("signal %d: stopping; draining queues and flushing notifications", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class OutboxDelivery:
    """The notifier on a background thread while the pipeline runs; `flush` sends what is left at the end."""

    def __init__(self, store: Store, settings: Settings) -> None:
        secret = webhook_secret()
        if secret is None and settings.notify.webhooks:
            log.warning("FALLWATCH_WEBHOOK_SECRET is not set: webhooks stay pending until a notifier has it")
        self.store = store
        self.notifier = Notifier(store, settings.notify, secret)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.notifier.run, args=(self._stop,), name="notifier", daemon=True
        )

    def start(self) -> OutboxDelivery:
        self._thread.start()
        return self

    def flush(self, timeout_s: float) -> int:
        """Delivers until nothing deliverable is pending or `timeout_s` passes; returns how many are left."""
        self._stop.set()
        self._thread.join()
        deadline = time.monotonic() + timeout_s
        while True:
            self.notifier.run_once()
            left = self._pending()
            if left == 0 or time.monotonic() >= deadline:
                return left
            time.sleep(0.2)

    def _pending(self) -> int:
        pending = self.store.outbox.entries(status=DeliveryStatus.PENDING)
        # What cannot go out from here (unsigned webhooks, say) is left for a notifier that can: not waited for.
        return sum(self.notifier.dispatcher.can_send(e) for e in pending)

    def close(self) -> None:
        self.notifier.close()


class CameraStatusReporter:
    """Tells the store, every few seconds, how each camera is doing, with a recent frame (the dashboard's Cameras
    page reads it). Runs on its own thread: a slow database never stalls video."""

    def __init__(self, store: Store, cameras: list[Camera], pipeline: Pipeline, media_root: Path,
                 every_s: float = 5.0) -> None:  # fmt: skip
        self.store, self.cameras, self.pipeline = store, cameras, pipeline
        self.media_root, self.every_s = media_root, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="camera-status", daemon=True)
        self._started = time.monotonic()

    def start(self) -> CameraStatusReporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.report(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.report()

    def report(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        for camera in self.cameras:
            if final or not camera.stats.connected:
                state = CameraState.STOPPED if final else CameraState.RECONNECTING
            else:
                state = CameraState.CONNECTED
            try:
                self.store.cameras.report(
                    camera.name, state, camera.stats.analysed / elapsed, camera.stats.dropped,
                    camera.stats.reconnects, frame_path=self._save_frame(camera.name),
                )  # fmt: skip
            except (StoreUnavailable, OSError) as exc:
                log.warning("camera status of %s not stored: %s", camera.name, exc)

    def _save_frame(self, camera: str) -> str | None:
        frame = self.pipeline.last_frames.get(camera)
        if frame is None:
            return None
        relative = Path("status") / f"{camera}.jpg"
        write_atomic(self.media_root / relative, encode_jpeg(frame.image, STATUS_JPEG_QUALITY))
        return relative.as_posix()


def run(settings: Settings, options: RunOptions) -> int:
    settings = apply_options(settings, options)
    cameras = build_cameras(settings)  # bad sources fail here, before any model loads
    recognizer = Recognizer(settings.recognizer)
    url = resolve_url(None, settings.store.url, data_dir=settings.data_dir)
    store = open_store(
        url, connect_timeout_s=settings.store.connect_timeout_s
    )  # migrates before threads start
    alerts = AlertService.from_settings(
        settings, run_id=datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ/"), url=url
    )
    metrics = PipelineMetrics()
    pipeline = Pipeline(settings, recognizer, alerts, metrics=metrics)
    server = _metrics_server(settings, metrics, cameras)
    delivery = OutboxDelivery(store, settings).start()
    media_root = settings.resolved_media_root
    status = CameraStatusReporter(store, cameras, pipeline, media_root).start()
    try:
        with stop_on_signals() as stop:
            result = pipeline.run(cameras, stop)
        status.stop()
        left = delivery.flush(settings.server.flush_timeout_s)
    finally:
        delivery.close()
        if server is not None:
            server.stop()
    print_summary(result, store, settings, left)
    store.close()
    errors = [report.error for report in result.cameras.values() if report.error]
    if errors:
        raise FallWatchError(errors[0])
    return 0


def _metrics_server(
    settings: Settings, metrics: PipelineMetrics, cameras: list[Camera]
) -> MetricsServer | None:
    if settings.server.metrics_port == 0:
        return None

    def health() -> tuple[bool, dict[str, object]]:
        states = {c.name: {"live": c.live, "connected": c.stats.connected, "decoded": c.stats.decoded,
                           "analysed": c.stats.analysed, "dropped": c.stats.dropped,
                           "reconnects": c.stats.reconnects} for c in cameras}  # fmt: skip
        healthy = all(s["connected"] or not s["live"] for s in states.values())
        return healthy, {"status": "ok" if healthy else "degraded", "cameras": states}

    try:
        server = MetricsServer(metrics, health, settings.server.metrics_port, settings.server.metrics_address)
    except OSError as exc:
        raise FallWatchError(
            f"metrics port {settings.server.metrics_port}: cannot listen ({exc.strerror}); "
            "expected a free port (server.metrics_port, 0 turns it off)"
        ) from None
    log.info("metrics on http://%s:%d/metrics", settings.server.metrics_address, server.port)
    return server.start()


def print_summary(result: RunResult, store: Store, settings: Settings, pending: int) -> None:
    media_root = settings.resolved_media_root
    print(
        f"analysed {result.analysed_frames} frames in {result.wall_s:.1f} s ({result.analysed_fps:.1f} fps)"
    )
    for report in result.cameras.values():
        print(f"  camera {report.name}: decoded {report.decoded}, analysed {report.analysed}, "
              f"dropped {report.dropped}, corrupt {report.corrupt}, reconnects {report.reconnects}")  # fmt: skip
    opened = result.opened
    print(f"incidents: {len(opened)}")
    for event in opened:
        incident = store.incidents.by_key(event.incident_key)
        if incident is None:
            print(f"  {event.camera} track {event.track_id} at {event.pts:.1f} s: not yet in the store")
            continue
        print(f"  #{incident.id} {incident.kind.value} ({incident.severity.value}) on {incident.camera}, "
              f"track {incident.track_id}, at {incident.opened_pts:.1f} s, peak score {incident.peak_score:.2f}")  # fmt: skip
        if incident.clip_path:
            print(f"      clip     {media_root / incident.clip_path}")
        if incident.snapshot_path:
            print(f"      snapshot {media_root / incident.snapshot_path}")
    print(f"database: {store.url}")
    if pending:
        print(f"notifications still pending: {pending} (a notifier delivers them: python -m alerts.notify)")
    if not result.stored:
        print("warning: some incidents are still spooled on disk; they are written when the database returns")
