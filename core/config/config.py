"""FallWatch's one configuration: a YAML file plus `FALLWATCH_` environment variables, gathered from the sections.

Each section is a module of this package, beside its own validation; this module puts them together. Environment
variables override the file (`FALLWATCH_DETECTOR__IMGSZ=640`); secrets only ever come from the environment. This
package is the only place that reads settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from fallwatch.core.config.alerts import AlertsConfig
from fallwatch.core.config.base import NAME_PATTERN, NAME_RULE, Name, is_valid_name
from fallwatch.core.config.camera import CameraConfig
from fallwatch.core.config.dashboard import DashboardConfig
from fallwatch.core.config.detector import DetectorConfig
from fallwatch.core.config.ingest import IngestConfig
from fallwatch.core.config.media import MediaConfig
from fallwatch.core.config.motion import MotionConfig
from fallwatch.core.config.notify import NotifyConfig
from fallwatch.core.config.recognizer import RecognizerConfig
from fallwatch.core.config.server import ServerConfig
from fallwatch.core.config.store import StoreConfig
from fallwatch.core.config.tracker import TrackerConfig
from fallwatch.core.config.tubelets import TubeletConfig
from fallwatch.core.config.workers import WorkersConfig
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
    motion: MotionConfig = Field(default_factory=MotionConfig)
    tubelets: TubeletConfig = Field(default_factory=TubeletConfig)
    recognizer: RecognizerConfig = Field(default_factory=RecognizerConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    media: MediaConfig = Field(default_factory=MediaConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    workers: WorkersConfig = Field(default_factory=WorkersConfig)
    cameras: dict[Name, CameraConfig] = Field(
        default_factory=dict, description=f"Cameras by name ({NAME_RULE})."
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
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path, yaml_file_encoding="utf-8"))
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
    except SettingsError as exc:
        raise FallWatchError(_describe_settings_error(exc)) from None
    finally:
        _yaml_path.reset(token)


def _check_yaml_file(path: Path) -> None:
    try:
        if not path.is_file():
            raise FallWatchError(f"{path}: configuration file not found (expected a YAML file)")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:  # a name too long, a folder that cannot be read, ...
        raise FallWatchError(f"{path}: cannot read ({exc.strerror}); expected a readable YAML file") from None
    except UnicodeDecodeError as exc:
        raise FallWatchError(f"{path}: not valid YAML ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FallWatchError(f"{path}: not valid YAML ({first})") from None
    if data is not None and not isinstance(data, dict):
        raise FallWatchError(
            f"{path}: expected a mapping of settings at the top level, got {type(data).__name__}"
        )
    odd_keys = [key for key in data or {} if not isinstance(key, str)]
    if odd_keys:
        raise FallWatchError(f"{path}: expected setting names as top-level keys, got {odd_keys[0]!r}")


def _describe_settings_error(exc: SettingsError) -> str:
    # pydantic-settings says 'error parsing value for field "cameras" from source "EnvSettingsSource"' when a
    # FALLWATCH_<SECTION> variable holds something other than JSON.
    field = re.search(r'field "(\w+)" from source "EnvSettingsSource"', str(exc))
    if field is None:
        return f"configuration: {exc}"
    name = f"FALLWATCH_{field.group(1).upper()}"
    return f"environment: {name}: expected JSON (or set one key at a time, e.g. {name}__KEY=value)"


@contextmanager
def settings_errors(where: str) -> Iterator[None]:
    """Settings built or changed inside (from command-line options, say) fail as one FallWatchError line,
    'where: key: message (got value)', instead of a pydantic traceback."""
    try:
        yield
    except ValidationError as exc:
        raise FallWatchError(f"{where}: {describe_validation_error(exc)}") from None


# What a pattern means, said in words: a regular expression is no explanation to someone who typed a name.
_PATTERN_MEANINGS = {
    NAME_PATTERN: f"expected a name of {NAME_RULE}",
    r"^https?://[^\s]+$": "expected an http:// or https:// URL without spaces",
}


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as 'key.path: message (got value)', on one printable line."""
    error = exc.errors()[0]
    key = ".".join(_key_part(part) for part in error["loc"]) or "settings"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "string_unicode":
        message = "expected text (this is not valid UTF-8)"
    elif error["type"] == "string_pattern_mismatch":
        message = _PATTERN_MEANINGS.get(error.get("ctx", {}).get("pattern", ""), message)
    got = error.get("input")
    quiet = isinstance(got, dict) or error["type"] in ("missing", "value_error")
    shown = "" if quiet else f" (got {_shorten(repr(got))})"
    more = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{key}: {message}{shown}{more}"


def _key_part(part: str | int) -> str:
    # A key that is not a plain name (a hostile camera name, say) is quoted, so it can neither break the line nor
    # pass for a path.
    text = str(part)
    return text if is_valid_name(text) or text == "[key]" else repr(text)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
