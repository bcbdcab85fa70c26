"""The alert engine's thresholds and timings, and each camera's zones."""

from __future__ import annotations

from pydantic import Field, model_validator

from fallwatch.core.config.base import Name, Section
from fallwatch.core.config.zones import ZoneConfig


class AlertsConfig(Section):
    # The defaults of smoothing, fall_threshold, fall_windows, lying_threshold, travel_limit, min_descent and
    # crowd_size are the settings chosen on every held-out video of both seeds of the shipped recipe
    # (bench/engine_defaults.py; the model card).
    smoothing: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Weight of the newest prediction in each track's moving average of scores (1 = no smoothing).",
    )
    fall_threshold: float = Field(
        0.6, gt=0, lt=1, description="Smoothed 'falling' score above which a window counts as falling."
    )
    fall_windows: int = Field(
        2, ge=1, le=50, description="Consecutive falling windows that open a FALL incident."
    )
    lying_threshold: float = Field(
        0.8, gt=0, lt=1, description="Smoothed 'lying' score above which the person counts as down."
    )
    fall_to_lying_s: float = Field(
        3.0,
        ge=0,
        le=60,
        description="A single falling window followed by lying within this many seconds also opens a FALL incident.",
    )
    recover_threshold: float = Field(
        0.6, gt=0, lt=1, description="Smoothed 'normal' score above which a window counts as up again."
    )
    recover_windows: int = Field(
        2, ge=1, le=50, description="Consecutive normal windows that mark an incident RECOVERED."
    )
    collapse_after_s: float = Field(
        10.0,
        gt=0,
        le=600,
        description="Seconds lying still after a fall before the incident escalates to COLLAPSE (critical).",
    )
    still_radius: float = Field(
        0.25,
        gt=0,
        le=5,
        description="How far the box centre may drift, as a fraction of the box's longer side, and still count as lying still.",
    )
    cooldown_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="After a person gets up, a new fall of the same person within this time continues the same incident instead of opening another.",
    )
    lost_after_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="A track with no prediction for this many seconds of stream time is treated as lost.",
    )
    reattach_s: float = Field(
        5.0,
        ge=0,
        le=120,
        description="A lost track's incident is continued by a new track that starts nearby within this many seconds; otherwise it is closed.",
    )
    carry_over_s: float = Field(
        600.0,
        ge=0,
        le=86400,
        description="An incident left in progress on a camera this worker takes (its worker was killed, or the last run crashed), last written within this many seconds, is followed on: a person lying near where it was is taken to be the same person, so a collapse is still told. Older ones are closed. 0: neither (they stay as they were left).",
    )
    carry_over_wait_s: float = Field(
        10.0,
        ge=0,
        le=600,
        description="How long after a taken camera's first frame a carried-over incident waits for its person (tracking and the recognizer's first tubelet take a few seconds) before it is closed.",
    )
    reattach_distance: float = Field(
        1.0,
        gt=0,
        le=10,
        description="How near a new track must start to continue a lost one, as a fraction of the lost box's longer side.",
    )
    travel_limit: float = Field(
        0.6,
        ge=0,
        le=20,
        description="A person whose box centre moves faster than this many box sides per second (over travel_window_s) is walking, not falling: no incident opens while they do; 0 turns it off. Seen from above, walking people can look like people lying.",
    )
    travel_window_s: float = Field(
        1.2, gt=0, le=10, description="Seconds of a track's boxes over which travel_limit measures its speed."
    )
    min_descent: float = Field(
        0.3,
        ge=0,
        le=5,
        description="A fall opens an incident only if, in its tubelet or one of the last fall_to_lying_s seconds, the top of the person's box came down by at least this fraction of their height: a fall pulls the box's top down; a person walking under a ceiling camera, exercising on a mat or lying on a bed mostly does not. 0 turns it off.",
    )
    crowd_hold: bool = Field(
        True,
        description="While an incident is followed on a camera, another person's fall there raises an incident only once they have stayed down and still for collapse_after_s: in a crowd, misread walkers must not multiply incidents.",
    )
    crowd_size: int = Field(
        5,
        ge=0,
        le=1000,
        description="With this many people or more tracked on a camera, a fall there is followed silently and raised only once the person has stayed down and still for collapse_after_s: a crowd has bystanders, and walkers misread as falling in it are many. 0 turns it off.",
    )
    timeline_points: int = Field(
        600,
        ge=10,
        le=100000,
        description="Most score points kept per incident timeline (the oldest of a very long incident are dropped).",
    )
    zones: dict[Name, list[ZoneConfig]] = Field(
        default_factory=dict, description="Zones by camera name: {camera: [{name, kind, points}, ...]}."
    )

    @model_validator(mode="after")
    def _unique_zone_names(self) -> AlertsConfig:
        for camera, zones in self.zones.items():
            names = [zone.name for zone in zones]
            if len(names) != len(set(names)):
                raise ValueError(f"zone names of camera {camera!r} must be unique, got {names}")
        return self
