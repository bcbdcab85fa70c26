"""Settings, one module per section (like Frigate's `frigate/config/`), gathered by `config.Settings`."""

from fallwatch.core.config.alerts import AlertsConfig
from fallwatch.core.config.base import NAME_PATTERN, Name, Section
from fallwatch.core.config.camera import CameraConfig
from fallwatch.core.config.config import Settings, describe_validation_error, load_settings
from fallwatch.core.config.dashboard import DASHBOARD_SECRET_ENV, DashboardConfig, dashboard_secret
from fallwatch.core.config.detector import DetectorConfig
from fallwatch.core.config.ingest import IngestConfig
from fallwatch.core.config.media import MediaConfig
from fallwatch.core.config.notify import (
    WEBHOOK_SECRET_ENV,
    MqttConfig,
    NotifyConfig,
    WebhookConfig,
    webhook_secret,
)
from fallwatch.core.config.recognizer import RecognizerConfig
from fallwatch.core.config.server import ServerConfig
from fallwatch.core.config.store import StoreConfig
from fallwatch.core.config.tracker import TrackerConfig
from fallwatch.core.config.tubelets import TubeletConfig
from fallwatch.core.config.zones import ZoneConfig, polygon_problem

__all__ = [
    "DASHBOARD_SECRET_ENV",
    "NAME_PATTERN",
    "WEBHOOK_SECRET_ENV",
    "AlertsConfig",
    "CameraConfig",
    "DashboardConfig",
    "DetectorConfig",
    "IngestConfig",
    "MediaConfig",
    "MqttConfig",
    "Name",
    "NotifyConfig",
    "RecognizerConfig",
    "Section",
    "ServerConfig",
    "Settings",
    "StoreConfig",
    "TrackerConfig",
    "TubeletConfig",
    "WebhookConfig",
    "ZoneConfig",
    "dashboard_secret",
    "describe_validation_error",
    "load_settings",
    "polygon_problem",
    "webhook_secret",
]
