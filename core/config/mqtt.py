"""The MQTT broker: where it is, how FallWatch signs in (password from the environment only), TLS, topics, QoS."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from fallwatch.core.config.base import NAME_PATTERN, Section
from fallwatch.core.config.home_assistant import HomeAssistantConfig

MQTT_PASSWORD_ENV = "FALLWATCH_MQTT_PASSWORD"


class MqttConfig(Section):
    enabled: bool = Field(False, description="Publish incidents to an MQTT broker.")
    host: str = Field("127.0.0.1", min_length=1, description="MQTT broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker port (8883 is the usual one for TLS).")
    topic_prefix: str = Field(
        "fallwatch",
        pattern=NAME_PATTERN,
        description="Topics are <prefix>/<camera>/incidents (each event) and <prefix>/<camera>/state (retained).",
    )
    qos: int = Field(
        1, ge=0, le=2, description="MQTT quality of service for incident messages (1: at least once)."
    )
    timeout_s: float = Field(
        10.0, gt=0, le=120, description="Seconds to wait for the broker to accept a message."
    )
    username: str | None = Field(
        None,
        min_length=1,
        max_length=256,
        description="User name at the broker; its password comes from FALLWATCH_MQTT_PASSWORD, never from this file.",
    )
    tls: bool = Field(False, description="Connect with TLS (the broker's certificate is verified).")
    ca_file: Path | None = Field(
        None,
        description="PEM file of the certificate authority that signed the broker's certificate; default: the system's CAs. Implies tls.",
    )
    cert_file: Path | None = Field(
        None, description="PEM client certificate, for brokers that ask for one (with key_file). Implies tls."
    )
    key_file: Path | None = Field(None, description="PEM private key of cert_file.")
    client_id: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="MQTT client id prefix; default fallwatch-<host name>-<process id> (ids must be unique per broker).",
    )
    keepalive_s: int = Field(
        30,
        ge=5,
        le=3600,
        description="Seconds between keep-alive pings; the broker declares FallWatch offline (its last will) after 1.5 times this without one.",
    )
    home_assistant: HomeAssistantConfig = Field(default_factory=HomeAssistantConfig)

    @model_validator(mode="after")
    def _tls_files(self) -> MqttConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (a client certificate and its key)")
        for name in ("ca_file", "cert_file", "key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(f"{name} {str(path)!r}: no such file (expected a PEM file)")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.tls or self.ca_file is not None or self.cert_file is not None


def mqtt_password() -> str | None:
    """The broker password: only ever from the environment (a YAML key would be refused as unknown)."""
    return os.environ.get(MQTT_PASSWORD_ENV) or None
