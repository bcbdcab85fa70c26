"""The alert stages wired together for the pipeline: frames feed the evidence buffers and stream time, predictions
feed the engine, and each engine event gets its evidence and is handed to the writer (which stores it, with its
outbox rows, off the analysis loop).

    service = AlertService.from_settings(settings, run_id="2025-01-01T10:00:00Z/")
    for frame in frames:        service.on_frame(frame)
    for p in predictions:       service.on_prediction(p)
    service.close()             # end of stream: closes incidents and clips, flushes the writer
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fallwatch.alerts.engine import Alert, AlertEngine
from fallwatch.alerts.media import EvidenceRecorder
from fallwatch.alerts.notifiers.messages import Routing
from fallwatch.alerts.records import WriteItem, utcnow
from fallwatch.alerts.retention import PruneReport, prune_with
from fallwatch.alerts.store import Store, open_store, parse_url, resolve_url
from fallwatch.alerts.writer import IncidentWriter, Spool
from fallwatch.core.config import Settings
from fallwatch.core.types import EventKind, Frame, IncidentEvent, Prediction

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0  # retention walks the media folder: hourly is plenty for limits counted in days and MB


class AlertService:
    def __init__(
        self,
        engine: AlertEngine,
        writer: IncidentWriter,
        recorder: EvidenceRecorder | None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.engine = engine
        self.writer = writer
        self.recorder = recorder
        self._clock = clock
        self._pruned_at = -float("inf")
        self.events: list[IncidentEvent] = []  # everything emitted, for `fallwatch eval` and tests
        # The lease epoch each write carries (None: the camera is not ours any more: nothing is written).
        self.lease_of: Callable[[str], int | None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, run_id: str = "", url: str | None = None) -> AlertService:
        url = resolve_url(url, settings.store.url, data_dir=settings.data_dir)
        parse_url(url)  # a bad URL is the user's mistake: say so now, not from a background thread
        routing = Routing.from_config(settings.notify)
        timeout = settings.store.connect_timeout_s

        def connect() -> Store:
            return open_store(url, routing, timeout)

        spool = Spool(settings.resolved_spool_dir, settings.store.spool_max_items)
        writer = IncidentWriter(connect, spool, settings.store.retry_initial_s, settings.store.retry_max_s)
        media_root = settings.resolved_media_root
        recorder = EvidenceRecorder(settings.media, Path(media_root)) if settings.media.enabled else None
        return cls(AlertEngine(settings.alerts, run_id=run_id), writer.start(), recorder)

    def on_frame(self, frame: Frame) -> None:
        if self.recorder is not None:
            self.recorder.push(frame)
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
                self.prune_media()
        self._handle(self.engine.advance(frame.camera, frame.pts))

    def prune_media(self) -> PruneReport | None:
        """Apply evidence retention now (done on the first frame and then hourly)."""
        self._pruned_at = time.monotonic()
        if self.recorder is None:
            return None
        return prune_with(self.recorder.config, self.recorder.root)

    def on_prediction(self, prediction: Prediction) -> None:
        self._handle(self.engine.feed(prediction))

    def end_camera(self, camera: str, *, handed_on: bool) -> None:
        """One camera stops here mid-run: handed on, its incidents are closed (the next worker opens its own);
        lost to another worker, it is dropped without a word (its writes would be refused anyway)."""
        if handed_on:
            self._handle(self.engine.finish(camera))
        else:
            self.engine.forget(camera)
        if self.recorder is not None:
            self.recorder.finish(camera)

    def close(self, timeout_s: float = 30.0) -> bool:
        """End every incident and clip; True when everything reached the store within `timeout_s`."""
        self._handle(self.engine.finish())
        if self.recorder is not None:
            self.recorder.finish()
        return self.writer.stop(timeout_s)

    def _handle(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            event = alert.event
            epoch = self.lease_of(event.camera) if self.lease_of is not None else None
            if self.lease_of is not None and epoch is None:
                log.warning("%s on %s not written: the camera's lease has passed to another worker",
                            event.kind.value, event.camera)  # fmt: skip
                continue
            at = self._clock()
            media = None
            if event.kind is EventKind.OPENED and self.recorder is not None:
                media = self.recorder.start(event.incident_key, event.camera, event.pts, at)
            self.events.append(event)
            self.writer.submit(
                WriteItem(
                    uuid.uuid4().hex,
                    event,
                    at,
                    alert.zone,
                    alert.samples,
                    media,
                    box=alert.box,
                    lease_epoch=epoch,
                )
            )
