"""Settings, one module per section (like Frigate's `frigate/config/`), gathered by `config.Settings`."""

from fallwatch.core.config.alerts import AlertsConfig
from fallwatch.core.config.base import NAME_PATTERN, NAME_RULE, Name, Section, check_name, is_valid_name
from fallwatch.core.config.camera import CameraConfig
from fallwatch.core.config.config import Settings, describe_validation_error, load_settings, settings_errors
from fallwatch.core.config.dashboard import DASHBOARD_SECRET_ENV, DashboardConfig, dashboard_secret
from fallwatch.core.config.detector import DetectorConfig
from fallwatch.core.config.home_assistant import HomeAssistantConfig
from fallwatch.core.config.ingest import IngestConfig
from fallwatch.core.config.media import MediaConfig
from fallwatch.core.config.motion import MotionConfig
from fallwatch.core.config.mqtt import MQTT_PASSWORD_ENV, MqttConfig, mqtt_password
from fallwatch.core.config.notify import WEBHOOK_SECRET_ENV, NotifyConfig, WebhookConfig, webhook_secret
from fallwatch.core.config.recognizer import RecognizerConfig
from fallwatch.core.config.server import ServerConfig
from fallwatch.core.config.store import StoreConfig
from fallwatch.core.config.tracker import TrackerConfig
from fallwatch.core.config.tubelets import TubeletConfig
from fallwatch.core.config.workers import WorkersConfig
from fallwatch.core.config.zones import ZoneConfig, polygon_problem

__all__ = [
    "DASHBOARD_SECRET_ENV",
    "MQTT_PASSWORD_ENV",
    "NAME_PATTERN",
    "NAME_RULE",
    "WEBHOOK_SECRET_ENV",
    "AlertsConfig",
    "CameraConfig",
    "DashboardConfig",
    "DetectorConfig",
    "HomeAssistantConfig",
    "IngestConfig",
    "MediaConfig",
    "MotionConfig",
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
    "WorkersConfig",
    "ZoneConfig",
    "check_name",
    "dashboard_secret",
    "describe_validation_error",
    "is_valid_name",
    "load_settings",
    "mqtt_password",
    "polygon_problem",
    "settings_errors",
    "webhook_secret",
]
