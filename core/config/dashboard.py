"""The dashboard: its users (password hashes only), address, refresh and sign-in lifetime; the signing key from the environment only."""

from __future__ import annotations

import os
import re
from typing import Annotated

from pydantic import Field, field_validator

from fallwatch.core.config.base import Name, Section
from fallwatch.core.errors import FallWatchError

DASHBOARD_SECRET_ENV = "FALLWATCH_DASHBOARD_SECRET"
_PASSWORD_HASH = r"^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"


class DashboardConfig(Section):
    users: dict[Name, Annotated[str, Field(max_length=512)]] = Field(
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

        for name, value in users.items():
            if not re.match(_PASSWORD_HASH, value):
                raise ValueError(
                    f"user {name!r}: expected an argon2 password hash ($argon2id$...), made with `fallwatch users hash`; passwords are never stored"
                )
        return users


def dashboard_secret() -> str | None:
    """The key that signs dashboard sign-ins across reloads: only ever from the environment, at least 32 characters."""

    value = os.environ.get(DASHBOARD_SECRET_ENV, "").strip()
    if value and len(value) < 32:
        raise FallWatchError(
            f"{DASHBOARD_SECRET_ENV} is too short ({len(value)} characters): use at least 32 random characters, e.g. `openssl rand -hex 32`"
        )
    return value or None
