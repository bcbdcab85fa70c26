"""The incident store: the database URL and the spool that holds incidents while it is down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from fallwatch.core.config.base import Section


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
