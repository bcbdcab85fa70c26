"""`fallwatch run`: every configured camera (or one --source) through the whole pipeline.

Files run to their end and the command exits 0 once their incidents, media and notifications are written; live
sources run until SIGINT or SIGTERM, which stop decoding, drain what is queued, close incidents and flush the
outbox before exit.
"""

from __future__ import annotations

import logging
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from fallwatch.alerts.media import MediaPathError, camera_folder, encode_jpeg, inside_root
from fallwatch.alerts.notifiers.home_assistant import HomeAssistantBridge
from fallwatch.alerts.notifiers.mqtt import BrokerOptions, MqttSession
from fallwatch.alerts.notifiers.notifier import Notifier
from fallwatch.alerts.records import CameraState, DeliveryStatus
from fallwatch.alerts.service import AlertService
from fallwatch.alerts.store import Store, StoreUnavailable, open_store, resolve_url
from fallwatch.app.assignment import CameraAssignment
from fallwatch.app.health import AnalysisMonitor, CameraHealth
from fallwatch.app.metrics import HealthReport, MetricsServer, PipelineMetrics
from fallwatch.app.pipeline import Pipeline, RunResult
from fallwatch.core.config import (
    CameraConfig,
    Section,
    Settings,
    WebhookConfig,
    check_name,
    mqtt_password,
    settings_errors,
    webhook_secret,
)
from fallwatch.core.errors import FallWatchError, TruncatedVideoError
from fallwatch.core.files import write_atomic
from fallwatch.ingest.cameras import Camera
from fallwatch.recognizer.infer import Recognizer

log = logging.getLogger(__name__)

SectionT = TypeVar("SectionT", bound=Section)

STATUS_JPEG_QUALITY = 80  # the Cameras page shows a thumbnail: small files matter more than detail


@dataclass(frozen=True, slots=True)
class RunOptions:
    sources: tuple[str, ...] = ()
    camera: str | None = None
    db: str | None = None
    media_dir: Path | None = None
    webhooks: tuple[str, ...] = ()


def apply_options(settings: Settings, options: RunOptions) -> Settings:
    """The settings with the command line's database, media folder, webhooks and sources folded in.

    Each option is validated as the settings would validate it: a bad one fails here, on one line naming it.
    """
    if options.camera is not None:
        check_name(options.camera, "--camera")
    update: dict[str, object] = {}
    if options.db is not None:
        with settings_errors("--db"):
            update["store"] = _copy_with(settings.store, url=options.db)
    if options.media_dir is not None:
        with settings_errors("--media-dir"):
            update["media"] = _copy_with(settings.media, root=options.media_dir)
    if options.webhooks:
        extra = []
        for i, url in enumerate(options.webhooks, start=1):
            with settings_errors(f"--webhook {url!r}"):
                extra.append(WebhookConfig(name=f"cli-{i}", url=url))
        with settings_errors("--webhook"):
            update["notify"] = _copy_with(settings.notify, webhooks=[*settings.notify.webhooks, *extra])
    if options.sources:
        with settings_errors("--source"):
            update["cameras"] = {_camera_name(options, source, i): CameraConfig(source=source)
                                 for i, source in enumerate(options.sources)}  # fmt: skip
    return settings.model_copy(update=update)


def _copy_with(section: SectionT, **changes: object) -> SectionT:
    # Assigned one by one, so that each change is validated (`model_copy(update=...)` validates nothing).
    copy = section.model_copy(deep=True)
    for key, value in changes.items():
        setattr(copy, key, value)
    return copy


def _camera_name(options: RunOptions, source: str, index: int) -> str:
    if options.camera and len(options.sources) == 1:
        return options.camera
    # Named after the source: ASCII letters and digits kept, no leading '.', so always a valid name.
    stem = Path(source.split("?")[0]).stem
    stem = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "-" for c in stem).lstrip(".")[:60]
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
def stop_on_signals(cameras: Callable[[], Sequence[Camera]] = list) -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM, which also stops `cameras` decoding; a second signal interrupts at once.

    The cameras are stopped here, not only when the analysis loop next sees the event: a camera that never
    connected yields no frame, so that loop would never look, and the camera would keep retrying for ever.
    """
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("signal %d: stopping; draining queues and flushing notifications", signum)
        stop.set()
        for camera in cameras():
            camera.stop()  # only sets its event: safe in a signal handler

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
    page reads it). Runs on its own thread: a slow database never stalls video, and a stuck analysis loop is
    still reported, as behind.

    The fps reported is the rate really analysed over the monitor's window; a camera analysed under its floor is
    `behind`, with "analysing 1.2 of 10 fps (minimum 2)" as its detail."""

    def __init__(self, store: Store, cameras: Callable[[], list[Camera]], pipeline: Pipeline, media_root: Path,
                 monitor: AnalysisMonitor, every_s: float = 5.0) -> None:  # fmt: skip
        self.store, self.cameras, self.pipeline = store, cameras, pipeline
        self.media_root, self.monitor, self.every_s = media_root, monitor, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="camera-status", daemon=True)

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
        healths = self.monitor.check()
        for camera in self.cameras():
            health = healths.get(camera.name)
            if health is None:
                continue  # taken a moment ago: reported from the next round
            state, detail = self.state_of(health, final)
            try:
                self.store.cameras.report(
                    camera.name, state, health.analysed_fps, camera.counts.dropped, camera.stats.reconnects,
                    frame_path=self._save_frame(camera.name), detail=detail,
                )  # fmt: skip
            except (StoreUnavailable, OSError) as exc:
                log.warning("camera status of %s not stored: %s", camera.name, exc)

    @staticmethod
    def state_of(health: CameraHealth, final: bool = False) -> tuple[CameraState, str | None]:
        """The state a camera's status row gets, and its detail."""
        if final:
            return CameraState.STOPPED, None
        if health.live and not health.connected:
            return CameraState.RECONNECTING, None
        if health.behind:
            return CameraState.BEHIND, health.summary
        if health.sampling_fps < health.target_fps:
            return (
                CameraState.CONNECTED,
                f"sampling {health.sampling_fps:.1f} of {health.target_fps:g} fps under load",
            )
        return CameraState.CONNECTED, None

    def _save_frame(self, camera: str) -> str | None:
        frame = self.pipeline.last_frames.get(camera)
        if frame is None:
            return None
        relative = f"status/{camera_folder(camera)}.jpg"
        try:
            path = inside_root(self.media_root, relative)
        except MediaPathError as exc:
            log.error("status frame of %s not saved: %s", camera, exc)
            return None
        write_atomic(path, encode_jpeg(frame.image, STATUS_JPEG_QUALITY))
        return relative


def run(settings: Settings, options: RunOptions) -> int:
    settings = apply_options(settings, options)
    cameras = build_cameras(settings)  # bad sources fail here, before any model loads
    recognizer = Recognizer(settings.recognizer, settings)
    url = resolve_url(None, settings.store.url, data_dir=settings.data_dir)
    store = open_store(
        url, connect_timeout_s=settings.store.connect_timeout_s
    )  # migrates before threads start
    assignment = CameraAssignment(store, camera_openers(settings, cameras), settings.workers,
                                  settings.server.metrics_port or None,
                                  files_only=not any(camera.live for camera in cameras))  # fmt: skip
    bridge = home_assistant_bridge(store, [camera.name for camera in cameras], settings)
    alerts = AlertService.from_settings(settings, run_id=run_id(assignment.name), url=url)
    metrics = PipelineMetrics()
    monitor = AnalysisMonitor([], settings.ingest)
    pipeline = Pipeline(settings, recognizer, alerts, metrics=metrics)
    server = _metrics_server(settings, metrics, worker_health(monitor, assignment), pipeline_alive(pipeline))
    assignment.start()  # registers and takes a first share of the cameras
    delivery = OutboxDelivery(store, settings).start()
    media_root = settings.resolved_media_root
    status = CameraStatusReporter(store, pipeline.running_cameras, pipeline, media_root, monitor).start()
    released = False
    try:
        with stop_on_signals(pipeline.running_cameras) as stop:
            result = pipeline.run([], stop, monitor, roster=assignment)
        status.stop()
        # Incidents are in the store or the spool now: the cameras go to other workers before notifications
        # are flushed, so that they are not left unwatched for the flush's length.
        assignment.stop()
        released = True
        left = delivery.flush(settings.server.flush_timeout_s)
    finally:
        if not released:
            assignment.stop()
        if bridge is not None:
            bridge.stop()
        delivery.close()
        if server is not None:
            server.stop()
    print_summary(result, store, settings, left)
    store.close()
    failed = [report for report in result.cameras.values() if report.error]
    if failed:
        # Only cut files, each read as far as it goes: exit 3 as for one file (the README's promise), else 2.
        truncated = {camera.name for camera in cameras if camera.stats.truncated}
        partial = all(report.name in truncated for report in failed)
        raise (TruncatedVideoError if partial else FallWatchError)(str(failed[0].error))
    return 0


def run_id(worker: str) -> str:
    """Prefixes this run's incident keys: the worker, the start second, and randomness, so that no two runs share
    a key however close their starts (two runs of one second once merged each other's incidents)."""
    return f"{worker}/{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}/"


def camera_openers(settings: Settings, cameras: list[Camera]) -> dict[str, Callable[[], Camera]]:
    """How to open each configured camera when this worker takes it: the one opened to check it at start the
    first time, a fresh one after that (a camera's decode thread runs once)."""
    opened = {camera.name: camera for camera in cameras}

    def opener(name: str) -> Callable[[], Camera]:
        def open_camera() -> Camera:
            camera = opened.pop(name, None)
            return camera if camera is not None else Camera(name, settings.cameras[name], settings.ingest)

        return open_camera

    return {camera.name: opener(camera.name) for camera in cameras}


def worker_health(monitor: AnalysisMonitor, assignment: CameraAssignment) -> HealthReport:
    """/healthz: the cameras' health, and which cameras this worker holds at which lease epoch."""

    def report() -> tuple[bool, dict[str, Any]]:
        healthy, body = monitor.report()
        return healthy, {**body, "worker": assignment.name, "leases": assignment.held()}

    return report


def pipeline_alive(pipeline: Pipeline, stuck_after_s: float = 60.0) -> Callable[[], bool]:
    """/livez: the analysis loop turned within `stuck_after_s` (it turns every 50 ms even with no camera)."""
    return lambda: time.monotonic() - pipeline.beat < stuck_after_s


def home_assistant_bridge(store: Store, cameras: list[str], settings: Settings) -> HomeAssistantBridge | None:
    """Home Assistant's discovery and states, when MQTT is on; a broker that refuses us stops the run here."""
    mqtt = settings.notify.mqtt
    if not (mqtt.enabled and mqtt.home_assistant.discovery):
        return None
    options = BrokerOptions.from_config(mqtt, mqtt_password())
    bridge = HomeAssistantBridge(
        store, cameras, mqtt, settings.resolved_media_root, lambda will: MqttSession(options, will)
    )
    return bridge.start()


def _metrics_server(
    settings: Settings, metrics: PipelineMetrics, health: HealthReport, alive: Callable[[], bool]
) -> MetricsServer | None:
    if settings.server.metrics_port == 0:
        return None
    try:
        server = MetricsServer(metrics, health, settings.server.metrics_port,
                               settings.server.metrics_address, alive)  # fmt: skip
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
