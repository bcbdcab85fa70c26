"""Alembic environment: always run programmatically by alerts.store.migrate, with a connection it provides."""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=config.attributes.get("version_table", "fallwatch_schema_version"),
    # SQLite cannot ALTER most things; batch mode rebuilds tables for later migrations that need it.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
