"""FallWatch's one configuration: a YAML file plus `FALLWATCH_` environment variables, gathered from the sections.

Each section is a module of this package, beside its own validation; this module puts them together. Environment
variables override the file (`FALLWATCH_DETECTOR__IMGSZ=640`); secrets only ever come from the environment. This
package is the only place that reads settings.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from fallwatch.core.config.alerts import AlertsConfig
from fallwatch.core.config.base import Name
from fallwatch.core.config.camera import CameraConfig
from fallwatch.core.config.dashboard import DashboardConfig
from fallwatch.core.config.detector import DetectorConfig
from fallwatch.core.config.ingest import IngestConfig
from fallwatch.core.config.media import MediaConfig
from fallwatch.core.config.notify import NotifyConfig
from fallwatch.core.config.recognizer import RecognizerConfig
from fallwatch.core.config.server import ServerConfig
from fallwatch.core.config.store import StoreConfig
from fallwatch.core.config.tracker import TrackerConfig
from fallwatch.core.config.tubelets import TubeletConfig
from fallwatch.core.errors import FallWatchError

_yaml_path: ContextVar[Path | None] = ContextVar("fallwatch_yaml_path", default=None)


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
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    cameras: dict[Name, CameraConfig] = Field(
        default_factory=dict, description="Cameras by name (letters, digits, _ . -)."
    )

    # The defaults that hang on data_dir, computed here once for every command and stage.
    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def resolved_media_root(self) -> Path:
        return self.media.root if self.media.root is not None else self.data_dir / "media"

    @property
    def resolved_spool_dir(self) -> Path:
        return self.store.spool_dir if self.store.spool_dir is not None else self.data_dir / "spool"

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
