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

from fallwatch.alerts.engine import Alert, AlertEngine, LeftIncident
from fallwatch.alerts.media import EvidenceRecorder
from fallwatch.alerts.notifiers.messages import Routing
from fallwatch.alerts.records import WriteItem, utcnow
from fallwatch.alerts.retention import PruneReport, prune_with
from fallwatch.alerts.store import Store, open_store, parse_url, resolve_url
from fallwatch.alerts.writer import IncidentWriter, Spool
from fallwatch.core.config import Settings
from fallwatch.core.errors import FallWatchError
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
        *,
        connect: Callable[[], Store] | None = None,
        carry_over_s: float = 0.0,
    ):
        """`connect` opens the store for reading what a camera's last worker left in progress (`take_over`);
        `carry_over_s` is `alerts.carry_over_s` (0: nothing is carried over)."""
        self.engine = engine
        self.writer = writer
        self.recorder = recorder
        self._clock = clock
        self._connect = connect
        self._carry_over_s = carry_over_s
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
        engine = AlertEngine(settings.alerts, run_id=run_id)
        return cls(
            engine, writer.start(), recorder, connect=connect, carry_over_s=settings.alerts.carry_over_s
        )

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

    def take_over(self, camera: str) -> int:
        """A camera this worker has just taken: the incidents its last worker (or a run that crashed) left in
        progress are followed on when recent, closed when not. How many there were."""
        if self._connect is None or self._carry_over_s <= 0:
            return 0
        try:
            with self._connect() as store:
                left = store.incidents.in_progress(camera)
        except FallWatchError as exc:  # StoreUnavailable among them
            log.warning("%s: incidents left in progress not read (%s); a collapse of theirs may go untold",
                        camera, exc)  # fmt: skip
            return 0
        now = self._clock()
        for incident in left:
            recent = (now - incident.last_event_at).total_seconds() <= self._carry_over_s
            follow = recent and incident.box is not None
            box = incident.box or (0.0, 0.0, 1.0, 1.0)  # never followed: only closed
            left_here = LeftIncident(incident.key, incident.track_id, incident.zone, incident.severity, box)
            self.engine.carry_over(camera, left_here, follow=follow)
            log.info("%s: incident %s left in progress %s", camera, incident.key,
                     "is followed on" if follow else "is closed")  # fmt: skip
        return len(left)

    def end_camera(self, camera: str, *, handed_on: bool) -> None:
        """One camera stops here mid-run: handed on, its incidents are closed (the next worker opens its own);
        lost to another worker, it is dropped without a word (its writes would be refused anyway)."""
        if handed_on:
            self._handle(self.engine.finish(camera))
        else:
            self.engine.forget(camera)
        if self.recorder is not None:
            self.recorder.finish(camera)

    def close(self, timeout_s: float = 30.0, *, leave_down: bool = False) -> bool:
        """End every incident and clip; True when everything reached the store within `timeout_s`. With
        `leave_down` (a stop, not the end of the streams), incidents whose person is still down stay in progress
        for the camera's next worker to take up."""
        self._handle(self.engine.finish(leave_down=leave_down))
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
