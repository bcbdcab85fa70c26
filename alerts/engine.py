"""The alert engine: a pure state machine per track, driven by stream time only.

Each track's scores are smoothed (an exponential moving average). An incident opens when the smoothed
`falling` score stays above its threshold for `fall_windows` consecutive predictions, or when a falling window is
followed by lying within `fall_to_lying_s`. While the person stays down and still (their box centre stays within
`still_radius` of where they came to rest) for `collapse_after_s`, the incident escalates to COLLAPSE. When they
get up first it is marked RECOVERED; `cooldown_s` later (still up) it is CLOSED. A fall within the cooldown
continues the same incident, but is an event of its own (FELL_AGAIN): a person who falls again must never go
untold because they fell soon after getting up. One incident per person per event, never one per window.

A fall must also look like one from outside the network: with `min_descent`, an incident opens only if the top
of the person's box came down by that fraction of their height within the tubelet (`Prediction.motion`) or one
judged in the last `fall_to_lying_s`. Walkers seen from above, sit-ups and lying down on a bed mostly read as lying
to the network without their box coming down; a fall pulls it down.

Three rules keep misread crowds quiet. A person whose box travels faster than `travel_limit` box sides a second
(over their last predictions, or within the tubelet) is walking, not falling, and opens nothing while they do
(from a ceiling camera a walker can look like a person lying). While an incident is followed on a camera, another
person's fall there is followed silently (held, with `crowd_hold`) and raised only if they stay down and still
for `collapse_after_s`: it then opens and escalates at once; if they get up first it is forgotten, so that their
next fall is judged afresh. With `crowd_size` people tracked on a camera, every
fall there is held so. A real fall is still told; a crowd of misread walkers is one incident, or none.

A track that goes silent for `lost_after_s` is lost; its incident passes to a track that starts near where it was
within `reattach_s` (trackers often give a person who lay down a new id), or is CLOSED. An incident that another
worker left in progress (`carry_over`) waits in the same way for a track that starts down near it.

Nothing here reads a clock, a file or a random number: the same predictions in the same order give the same
events. Time is `Prediction.pts` (stream seconds), per camera.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from fallwatch.alerts.zones import CameraZones, Zone, ZoneKind, box_centre, longer_side
from fallwatch.core.config import AlertsConfig
from fallwatch.core.types import Box, EventKind, IncidentEvent, Motion, Prediction, Severity

_HISTORY = 32  # predictions of context kept per track, so a new incident's timeline starts before it opened


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a track's box was at one prediction: its centre and its longer side."""

    pts: float
    x: float
    y: float
    side: float

    @classmethod
    def of(cls, pts: float, box: Box) -> _Place:
        x, y = box_centre(box)
        return cls(pts, x, y, longer_side(box))


@dataclass(frozen=True, slots=True)
class LeftIncident:
    """An incident another worker left in progress, as far as the engine needs it to follow on."""

    key: str
    track_id: int
    zone: str | None
    severity: Severity
    box: Box


@dataclass(frozen=True, slots=True)
class ScoreSample:
    """One raw prediction on an incident's timeline (the engine keeps them, the store saves them, the dashboard plots them)."""

    pts: float
    normal: float
    falling: float
    lying: float


@dataclass(frozen=True, slots=True)
class Alert:
    """An engine event with what the store needs besides it: where it happened and the scores since the last."""

    event: IncidentEvent
    zone: str | None
    box: Box
    samples: tuple[ScoreSample, ...]


class _Phase(Enum):
    DOWN = "down"  # fallen: waiting for recovery or escalation
    UP = "up"  # got up: waiting out the cooldown before closing


@dataclass(slots=True)
class _Incident:
    key: str
    camera: str
    track_id: int
    zone: str | None
    box: Box
    timeline_limit: int
    phase: _Phase = _Phase.DOWN
    severity: Severity = Severity.WARNING
    peak: float = 0.0
    escalated_this_fall: bool = False  # each fall of the incident may escalate once, if they lie still again
    still_anchor: tuple[float, float] | None = None
    still_since: float | None = None
    up_since: float | None = None
    held: bool = False  # a crowd's further fall: followed, but told only if it escalates
    samples: deque[ScoreSample] = field(default_factory=deque)

    def record(self, sample: ScoreSample) -> None:
        self.samples.append(sample)
        while len(self.samples) > self.timeline_limit:
            self.samples.popleft()  # bounded between two events; the store keeps what was already taken


@dataclass(slots=True)
class _Track:
    track_id: int
    born: float
    last_pts: float
    box: Box
    smoothed: dict[str, float]
    fall_run: int = 0
    normal_run: int = 0
    last_fall_pts: float | None = None
    last_descent_pts: float | None = None  # the last time the box was seen coming down far enough
    history: deque[ScoreSample] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    path: deque[_Place] = field(default_factory=lambda: deque(maxlen=_HISTORY))
    incident: _Incident | None = None


@dataclass(slots=True)
class _Orphan:
    """An incident whose track was lost, waiting for a successor track."""

    incident: _Incident
    lost_pts: float | None  # when its track was last seen; None: carried over, not seen here yet
    wait_s: float  # how long after lost_pts a successor may take it
    needs_down: bool = False  # carried over: only a track that starts down takes it

    def expired(self, now: float) -> bool:
        if self.lost_pts is None:
            self.lost_pts = now  # carried over: its wait starts with the camera's first frame here
        if self.needs_down and self.wait_s == 0:
            return True  # carried over only to be closed
        return now - self.lost_pts > self.wait_s


@dataclass(slots=True)
class _Camera:
    zones: CameraZones
    now: float = -math.inf
    tracks: dict[int, _Track] = field(default_factory=dict)
    orphans: list[_Orphan] = field(default_factory=list)

    def followed(self) -> list[_Incident]:
        """The incidents followed on this camera: its tracks' (by track id), then those lost while down."""
        by_track = [t.incident for t in sorted(self.tracks.values(), key=lambda t: t.track_id) if t.incident]
        return by_track + [orphan.incident for orphan in self.orphans]


def zones_from_config(config: AlertsConfig) -> dict[str, CameraZones]:
    return {
        camera: CameraZones(tuple(Zone(z.name, ZoneKind(z.kind), tuple(z.points)) for z in zones))
        for camera, zones in config.zones.items()
    }


class AlertEngine:
    """Turns predictions into incident events. Not thread-safe: feed it from one loop."""

    def __init__(
        self, config: AlertsConfig, run_id: str = "", zones: Mapping[str, CameraZones] | None = None
    ):
        """`run_id` prefixes incident keys so that two runs over the same stream times never share a key."""
        self._config = config
        self._run_id = run_id
        self._zones = dict(zones) if zones is not None else zones_from_config(config)
        self._cameras: dict[str, _Camera] = {}

    # --- public API ---------------------------------------------------------------------------------------------

    def feed(self, prediction: Prediction) -> list[Alert]:
        """Take one prediction; return the events it causes (and those of time passing on its camera)."""
        camera = self._camera(prediction.camera)
        alerts = self._advance(prediction.camera, camera, prediction.pts)
        if camera.zones.ignored(prediction.box):
            track = camera.tracks.get(prediction.track_id)
            if track is not None:
                track.last_pts = max(track.last_pts, prediction.pts)  # still there, just not to be judged
            return alerts
        track = camera.tracks.get(prediction.track_id)
        if track is None:
            track = self._new_track(camera, prediction)
        alerts.extend(self._update(prediction.camera, camera, track, prediction))
        return alerts

    def advance(self, camera: str, pts: float) -> list[Alert]:
        """Let stream time pass on a camera (call once per analysed frame): lost tracks and cooldowns end."""
        return self._advance(camera, self._camera(camera), pts)

    def finish(self, camera: str | None = None, *, leave_down: bool = False) -> list[Alert]:
        """End of stream: close every incident (of one camera, or all) and forget their tracks. With
        `leave_down` (the worker stops, the camera goes on), an incident whose person is still down is left in
        progress, not closed: whoever analyses the camera next carries it over (`carry_over`)."""
        names = [camera] if camera is not None else sorted(self._cameras)
        alerts: list[Alert] = []
        for name in names:
            state = self._cameras.pop(name, None)
            if state is None:
                continue
            for incident in state.followed():
                if not (leave_down and incident.phase is _Phase.DOWN):
                    alerts += self._close(incident, state.now)
        return alerts

    def carry_over(self, camera: str, left: LeftIncident, *, follow: bool) -> None:
        """An incident another worker (or a run that crashed) left in progress on this camera. With `follow`,
        a track that starts down near its box within `carry_over_wait_s` of the camera's first frame here
        takes it on (so a collapse is still told); otherwise, or when none does, it is CLOSED."""
        key, box, zone, severity = left.key, left.box, left.zone, left.severity
        incident = _Incident(key=key, camera=camera, track_id=left.track_id, zone=zone, box=box,
                             timeline_limit=self._config.timeline_points, severity=severity,
                             escalated_this_fall=severity is Severity.CRITICAL)  # fmt: skip
        wait_s = self._config.carry_over_wait_s if follow else 0.0
        self._camera(camera).orphans.append(_Orphan(incident, None, wait_s, needs_down=True))

    def forget(self, camera: str) -> None:
        """Drop a camera without closing its incidents: another worker analyses it now, and tells its story."""
        self._cameras.pop(camera, None)

    def busy_cameras(self) -> frozenset[str]:
        """Cameras with an incident still being followed."""
        return frozenset(name for name, c in self._cameras.items() if c.followed())

    def open_incidents(self) -> list[str]:
        """Keys of the told incidents still being followed, in a stable order."""
        followed = [incident for c in self._cameras.values() for incident in c.followed()]
        return sorted(incident.key for incident in followed if not incident.held)

    # --- time ---------------------------------------------------------------------------------------------------

    def _camera(self, name: str) -> _Camera:
        if name not in self._cameras:
            self._cameras[name] = _Camera(zones=self._zones.get(name, CameraZones()))
        return self._cameras[name]

    def _advance(self, name: str, camera: _Camera, pts: float) -> list[Alert]:
        camera.now = max(camera.now, pts)  # predictions of one batch may share a pts; time never runs back
        now = camera.now
        alerts: list[Alert] = []
        for track in sorted(camera.tracks.values(), key=lambda t: t.track_id):
            if now - track.last_pts > self._config.lost_after_s:
                alerts.extend(self._lose(camera, track))
            elif track.incident is not None and self._cooled(track.incident, now):
                alerts += self._close(track.incident, now)
                track.incident = None
        for orphan in list(camera.orphans):
            if orphan.expired(now):
                camera.orphans.remove(orphan)
                alerts += self._close(orphan.incident, now)
        return alerts

    def _cooled(self, incident: _Incident, now: float) -> bool:
        """Up for the whole cooldown: the incident is over."""
        up_since = incident.up_since
        return (
            incident.phase is _Phase.UP and up_since is not None and now - up_since >= self._config.cooldown_s
        )

    def _lose(self, camera: _Camera, track: _Track) -> list[Alert]:
        del camera.tracks[track.track_id]  # everything per track is freed when it ends
        incident = track.incident
        if incident is None:
            return []
        if incident.phase is _Phase.UP:
            return self._close(incident, camera.now)  # up and gone: nothing left to follow
        successor = self._successor(camera, incident, track.last_pts)
        if successor is not None:
            self._hand_over(incident, successor)
        else:
            camera.orphans.append(_Orphan(incident, track.last_pts, self._config.reattach_s))
        return []

    # --- reattachment -------------------------------------------------------------------------------------------

    def _near(self, incident: _Incident, box: Box) -> float | None:
        """Distance from the incident's last box to `box` in units of that box's longer side, if near enough."""
        (ax, ay), (bx, by) = box_centre(incident.box), box_centre(box)
        distance = math.hypot(ax - bx, ay - by) / longer_side(incident.box)
        return distance if distance <= self._config.reattach_distance else None

    def _successor(self, camera: _Camera, incident: _Incident, lost_pts: float) -> _Track | None:
        """A live track born after the lost one was last seen, near it, with no incident of its own."""
        candidates = [
            (distance, track.track_id, track)
            for track in camera.tracks.values()
            if track.incident is None
            and lost_pts <= track.born <= lost_pts + self._config.reattach_s
            and (distance := self._near(incident, track.box)) is not None
        ]
        return min(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None

    def _adopt(self, camera: _Camera, track: _Track, pts: float, *, include_silent: bool) -> bool:
        """Give `track` a nearby orphaned incident (or, when it is about to open one, a silent track's)."""
        options: list[tuple[float, str, _Incident, _Orphan | _Track]] = []
        for orphan in camera.orphans:
            # A carried-over incident goes only to a person found down where it was: one seen falling here may
            # have got up unseen while no worker watched, and their new fall is told as an incident of its own.
            if orphan.needs_down and (include_silent or not _down(track.smoothed)):
                continue
            if (distance := self._near(orphan.incident, track.box)) is not None:
                options.append((distance, orphan.incident.key, orphan.incident, orphan))
        if include_silent:
            for other in camera.tracks.values():
                silent = (
                    other is not track
                    and other.last_pts < pts
                    and pts - other.last_pts <= self._config.reattach_s
                )
                held = other.incident
                if silent and held is not None and held.phase is _Phase.DOWN:
                    distance = self._near(held, track.box)
                    if distance is not None:
                        options.append((distance, held.key, held, other))
        if not options:
            return False
        _, _, incident, holder = min(options, key=lambda o: (o[0], o[1]))
        if isinstance(holder, _Orphan):
            camera.orphans.remove(holder)
        else:
            holder.incident = None
        self._hand_over(incident, track)
        return True

    @staticmethod
    def _hand_over(incident: _Incident, track: _Track) -> None:
        incident.track_id = track.track_id
        incident.box = track.box
        track.incident = incident

    # --- per prediction -----------------------------------------------------------------------------------------

    def _new_track(self, camera: _Camera, prediction: Prediction) -> _Track:
        track = _Track(
            track_id=prediction.track_id,
            born=prediction.pts,
            last_pts=prediction.pts,
            box=prediction.box,
            smoothed=dict(prediction.scores),
        )
        camera.tracks[prediction.track_id] = track
        self._adopt(camera, track, prediction.pts, include_silent=False)
        return track

    def _smooth(self, track: _Track, prediction: Prediction) -> dict[str, float]:
        a = self._config.smoothing
        track.smoothed = {k: a * v + (1.0 - a) * track.smoothed[k] for k, v in prediction.scores.items()}
        return track.smoothed

    def _update(self, name: str, camera: _Camera, track: _Track, prediction: Prediction) -> list[Alert]:
        cfg = self._config
        pts = prediction.pts
        scores = prediction.scores
        sample = ScoreSample(pts, scores["normal"], scores["falling"], scores["lying"])
        # A new track starts at its first scores, so smoothing its first prediction changes nothing.
        smoothed = self._smooth(track, prediction)
        track.last_pts = max(track.last_pts, pts)
        track.box = prediction.box
        track.history.append(sample)
        track.path.append(_Place.of(pts, prediction.box))

        falling = smoothed["falling"] >= cfg.fall_threshold
        track.fall_run = track.fall_run + 1 if falling else 0
        track.normal_run = track.normal_run + 1 if smoothed["normal"] >= cfg.recover_threshold else 0
        if falling:
            track.last_fall_pts = pts
        motion = prediction.motion
        if motion is None or motion.descent >= cfg.min_descent:
            track.last_descent_pts = pts
        resting = camera.zones.resting(prediction.box)
        fell = (
            not resting
            and self._fell(track, smoothed, pts)
            and self._came_down(track, pts)
            and not self._travelling(track, motion)
        )

        incident = track.incident
        if incident is None:
            if not fell:
                return []
            if self._adopt(camera, track, pts, include_silent=True):
                incident = track.incident
                assert incident is not None
                incident.record(sample)
                return self._follow(incident, track, smoothed, prediction, resting)
            return self._open(name, camera, track, smoothed, prediction)
        incident.box = prediction.box
        incident.record(sample)
        if incident.phase is _Phase.UP:
            if not fell:
                return []  # the cooldown itself is timed in _advance
            return self._fall_again(incident, smoothed, prediction)
        return self._follow(incident, track, smoothed, prediction, resting)

    def _fell(self, track: _Track, smoothed: Mapping[str, float], pts: float) -> bool:
        cfg = self._config
        if track.fall_run >= cfg.fall_windows:
            return True
        lying = smoothed["lying"] >= cfg.lying_threshold
        recent_fall = track.last_fall_pts is not None and pts - track.last_fall_pts <= cfg.fall_to_lying_s
        return lying and recent_fall

    def _came_down(self, track: _Track, pts: float) -> bool:
        """The box came down far enough in this tubelet or one of the last `fall_to_lying_s` (see the module)."""
        last = track.last_descent_pts
        return last is not None and pts - last <= self._config.fall_to_lying_s

    def _travelling(self, track: _Track, motion: Motion | None) -> bool:
        """Moving across the scene faster than a person falling and coming to rest does: over the track's last
        `travel_window_s` of predictions or within this tubelet (a track's first tubelets have no path yet)."""
        limit, window = self._config.travel_limit, self._config.travel_window_s
        if limit <= 0:
            return False
        if motion is not None and motion.speed > limit:
            return True
        now = track.path[-1]
        span = [place for place in track.path if now.pts - place.pts <= window]
        elapsed = now.pts - span[0].pts
        if elapsed < window / 2:
            return False  # too short a path to tell walking from falling
        side = max(place.side for place in span)
        distance = math.hypot(now.x - span[0].x, now.y - span[0].y)
        return distance / side / elapsed > limit

    def _crowded(self, camera: _Camera, track: _Track) -> bool:
        """Someone else's told incident is still being followed on this camera, or (`crowd_size`) so many people
        are tracked here that a fall is told only once the person stays down."""
        size = self._config.crowd_size
        if size and len(camera.tracks) >= size:
            return True
        if not self._config.crowd_hold:
            return False
        others = [incident for incident in camera.followed() if incident is not track.incident]
        return any(not incident.held for incident in others)

    def _open(
        self, name: str, camera: _Camera, track: _Track, smoothed: Mapping[str, float], prediction: Prediction
    ) -> list[Alert]:
        key = f"{self._run_id}{name}/{track.track_id}/{prediction.pts:.3f}"
        incident = _Incident(
            key=key,
            camera=name,
            track_id=track.track_id,
            zone=camera.zones.place(prediction.box),
            box=prediction.box,
            timeline_limit=self._config.timeline_points,
            held=self._crowded(camera, track),
        )
        for sample in track.history:  # the windows that led up to it
            incident.record(sample)
        incident.peak = max(s.falling for s in track.history)
        track.incident = incident
        self._update_stillness(incident, smoothed, prediction, resting=False)
        return self._emit(
            incident, EventKind.OPENED, prediction.pts, max(smoothed["falling"], smoothed["lying"])
        )

    def _fall_again(
        self, incident: _Incident, smoothed: Mapping[str, float], prediction: Prediction
    ) -> list[Alert]:
        """Down again within the cooldown: the same incident goes on, and receivers are told at once."""
        incident.phase, incident.up_since, incident.escalated_this_fall = _Phase.DOWN, None, False
        incident.still_anchor = incident.still_since = None
        incident.peak = max(incident.peak, prediction.scores["falling"])
        self._update_stillness(incident, smoothed, prediction, resting=False)
        return self._emit(
            incident,
            EventKind.FELL_AGAIN,
            prediction.pts,
            max(smoothed["falling"], smoothed["lying"]),
        )

    def _follow(
        self,
        incident: _Incident,
        track: _Track,
        smoothed: Mapping[str, float],
        prediction: Prediction,
        resting: bool,
    ) -> list[Alert]:
        cfg = self._config
        pts = prediction.pts
        incident.peak = max(incident.peak, prediction.scores["falling"])
        if track.normal_run >= cfg.recover_windows:
            if incident.held:  # a crowd's fall never told: forgotten, so that a next fall is judged afresh
                track.incident = None
                track.fall_run, track.last_fall_pts = 0, None
                return []
            incident.phase, incident.up_since = _Phase.UP, pts
            incident.still_anchor = incident.still_since = None
            track.fall_run, track.last_fall_pts = 0, None  # the fall that is over must not count again
            return self._emit(incident, EventKind.RECOVERED, pts, smoothed["normal"])
        self._update_stillness(incident, smoothed, prediction, resting)
        down_for = pts - incident.still_since if incident.still_since is not None else 0.0
        if down_for >= cfg.collapse_after_s and not incident.escalated_this_fall:
            if incident.held:  # the crowd's further fall is a collapse after all: it is told now
                incident.held = False
                alerts = self._emit(incident, EventKind.OPENED, pts, smoothed["lying"])
            else:
                alerts = []
            incident.severity, incident.escalated_this_fall = Severity.CRITICAL, True
            return alerts + self._emit(incident, EventKind.ESCALATED, pts, smoothed["lying"])
        return []

    def _update_stillness(
        self, incident: _Incident, smoothed: Mapping[str, float], prediction: Prediction, resting: bool
    ) -> None:
        """Restart the collapse timer whenever the person is up-ish, in a rest zone, or moves noticeably."""
        if resting or not _down(smoothed):
            incident.still_anchor = incident.still_since = None
            return
        box = prediction.box
        centre = box_centre(box)
        anchor = incident.still_anchor
        moved = anchor is None or math.hypot(centre[0] - anchor[0], centre[1] - anchor[1]) > (
            self._config.still_radius * longer_side(box)
        )
        if moved:
            incident.still_anchor, incident.still_since = centre, prediction.pts

    # --- events -------------------------------------------------------------------------------------------------

    def _close(self, incident: _Incident, pts: float) -> list[Alert]:
        return self._emit(incident, EventKind.CLOSED, pts, incident.peak)

    def _emit(self, incident: _Incident, kind: EventKind, pts: float, score: float) -> list[Alert]:
        """The event, unless the incident is held (a crowd's further fall, not told unless it escalates)."""
        if incident.held:
            return []
        return [self._event(incident, kind, pts, score)]

    def _event(self, incident: _Incident, kind: EventKind, pts: float, score: float) -> Alert:
        event = IncidentEvent(
            kind=kind,
            incident_key=incident.key,
            camera=incident.camera,
            track_id=incident.track_id,
            pts=pts,
            severity=incident.severity,
            score=min(1.0, max(0.0, score)),
        )
        samples = tuple(incident.samples)
        incident.samples.clear()
        return Alert(event=event, zone=incident.zone, box=incident.box, samples=samples)


def _down(smoothed: Mapping[str, float]) -> bool:
    return smoothed["lying"] + smoothed["falling"] >= 0.5


def events(alerts: Iterable[Alert]) -> list[IncidentEvent]:
    return [alert.event for alert in alerts]
