"""The incident store: cameras, incidents, their events, audit trail and score timeline, the outbox.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from fallwatch.alerts.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("camera_id", sa.Integer, sa.ForeignKey("cameras.id"), nullable=False),
        sa.Column("track_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("zone", sa.String(64)),
        sa.Column("opened_pts", sa.Float, nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("escalated_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("outcome", sa.String(16)),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("peak_score", sa.Float, nullable=False),
        sa.Column("snapshot_path", sa.String(512)),
        sa.Column("clip_path", sa.String(512)),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_index("ix_incidents_camera", "incidents", ["camera_id", "id"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("uid", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pts", sa.Float, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("track_id", sa.Integer, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])
    op.create_table(
        "incident_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("old", sa.Text),
        sa.Column("new", sa.Text),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_incident_changes_incident_id", "incident_changes", ["incident_id"])
    op.create_table(
        "score_points",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("pts", sa.Float, nullable=False),
        sa.Column("normal", sa.Float, nullable=False),
        sa.Column("falling", sa.Float, nullable=False),
        sa.Column("lying", sa.Float, nullable=False),
    )
    op.create_index("ix_score_points_incident", "score_points", ["incident_id", "pts"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("delivery_id", sa.String(32), nullable=False, unique=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime()),
        sa.Column("locked_by", sa.String(64)),
        sa.Column("delivered_at", UTCDateTime()),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_chain", "outbox", ["incident_id", "destination", "id"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("outbox_id", sa.Integer, sa.ForeignKey("outbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Float, nullable=False),
    )
    op.create_index("ix_delivery_attempts_outbox_id", "delivery_attempts", ["outbox_id"])


def downgrade() -> None:
    for table in (
        "delivery_attempts",
        "outbox",
        "score_points",
        "incident_changes",
        "incident_events",
        "incidents",
    ):
        op.drop_table(table)
    op.drop_table("cameras")
