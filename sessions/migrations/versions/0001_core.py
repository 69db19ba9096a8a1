"""Core tables: sites, meetings, participants, nodes, connections, meeting events.

Revision ID: 0001_core
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("parent_id", sa.String(32), sa.ForeignKey("sites.id"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_sites_parent_id", "sites", ["parent_id"])
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("starts_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "participants",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("site_id", sa.String(32), sa.ForeignKey("sites.id"), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_participants_meeting_id", "participants", ["meeting_id"])
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
    )
    op.create_table(
        "connections",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("node_id", sa.String(32), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_id", sa.String(32), sa.ForeignKey("participants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("connected_at", TS, nullable=False),
    )
    op.create_index("ix_connections_node_id", "connections", ["node_id"])
    op.create_index("ix_connections_meeting_id", "connections", ["meeting_id"])
    op.create_index("ix_connections_participant_id", "connections", ["participant_id"])
    op.create_table(
        "meeting_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("actor_id", sa.String(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("meeting_id", "seq", name="uq_meeting_events_seq"),
    )
    op.create_index("ix_meeting_events_type", "meeting_events", ["meeting_id", "type"])


def downgrade() -> None:
    for table in ("meeting_events", "connections", "nodes", "participants", "meetings", "sites"):
        op.drop_table(table)
