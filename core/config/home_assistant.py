"""Home Assistant over MQTT: discovery of FallWatch's entities, and (off by default) acknowledging from it."""

from __future__ import annotations

from pydantic import Field

from fallwatch.core.config.base import NAME_PATTERN, Section


class HomeAssistantConfig(Section):
    discovery: bool = Field(
        True,
        description="Publish Home Assistant MQTT discovery (retained) while MQTT is enabled: per camera a 'fall detected' binary sensor, the last incident, its snapshot and the connection state, under one device.",
    )
    discovery_prefix: str = Field(
        "homeassistant",
        pattern=NAME_PATTERN,
        description="Home Assistant's discovery prefix (its MQTT integration's setting; 'homeassistant' unless changed there).",
    )
    node_id: str = Field(
        "fallwatch",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",  # Home Assistant's rule for the node id of a discovery topic
        description="Groups FallWatch's discovery topics (<discovery_prefix>/<component>/<node_id>/<object>/config); give each FallWatch installation sharing one broker its own.",
    )
    commands: bool = Field(
        False,
        description="Accept 'acknowledge' and 'false_alarm' on <topic_prefix>/<camera>/command (buttons in Home Assistant); anyone who may publish there can then review incidents.",
    )
    user: str = Field(
        "home-assistant",
        pattern=NAME_PATTERN,
        description="Who reviews recorded for commands from Home Assistant (in the incident's history, as a dashboard user's name is).",
    )
    poll_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="How often the last incidents and camera states are read from the store and published when changed.",
    )
