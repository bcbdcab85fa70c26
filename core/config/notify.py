"""Notifications: signed webhooks, MQTT (its own module), and how the outbox retries; the webhook secret comes
from the environment only."""

from __future__ import annotations

import os

from pydantic import Field, model_validator

from fallwatch.core.config.base import NAME_PATTERN, Section
from fallwatch.core.config.mqtt import MqttConfig

WEBHOOK_SECRET_ENV = "FALLWATCH_WEBHOOK_SECRET"


class WebhookConfig(Section):
    name: str = Field(
        ..., pattern=NAME_PATTERN, description="A short name for the receiver, used in delivery records."
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


class NotifyConfig(Section):
    webhooks: list[WebhookConfig] = Field(
        default_factory=list,
        max_length=32,
        description="Receivers of signed incident webhooks; the secret comes from FALLWATCH_WEBHOOK_SECRET.",
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
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

    value = os.environ.get(WEBHOOK_SECRET_ENV, "").strip()
    return value or None
