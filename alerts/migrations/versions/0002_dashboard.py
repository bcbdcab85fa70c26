"""The dashboard's tables: workers' camera status, dashboard users; each event's track box.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fallwatch.alerts.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BOX_COLUMNS = ("box_x1", "box_y1", "box_x2", "box_y2")


def upgrade() -> None:
    # Nullable columns: events stored before this revision simply have no box to draw.
    for name in BOX_COLUMNS:
        op.add_column("incident_events", sa.Column(name, sa.Float, nullable=True))
    op.create_table(
        "camera_status",
        sa.Column("camera", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("dropped", sa.Integer, nullable=False),
        sa.Column("reconnects", sa.Integer, nullable=False),
        sa.Column("frame_path", sa.String(512)),
        sa.Column("detail", sa.Text),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "dashboard_users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(512), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dashboard_users")
    op.drop_table("camera_status")
    with op.batch_alter_table("incident_events") as batch:  # SQLite drops columns by rebuilding the table
        for name in BOX_COLUMNS:
            batch.drop_column(name)
