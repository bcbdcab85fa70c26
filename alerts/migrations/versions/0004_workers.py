"""Workers and camera leases: several `fallwatch run` processes share the cameras of one settings file.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fallwatch.alerts.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime()),
        sa.Column("max_cameras", sa.Integer, nullable=False),
        sa.Column("metrics_port", sa.Integer),
    )
    op.create_table(
        "camera_leases",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("worker", sa.String(64)),
        sa.Column("epoch", sa.Integer, nullable=False),
        sa.Column("acquired_at", UTCDateTime()),
        sa.Column("expires_at", UTCDateTime()),
    )
    op.create_index("ix_camera_leases_worker", "camera_leases", ["worker"])


def downgrade() -> None:
    op.drop_table("camera_leases")
    op.drop_table("workers")
