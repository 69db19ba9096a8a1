"""sites' terminals, their presence, and calls

Revision ID: 0006_sites
Revises: 0005_event_names
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_sites"
down_revision = "0005_event_names"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "site_terminals",
        sa.Column("site_id", sa.String(32), sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "terminal_connections",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("node_id", sa.String(32), sa.ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("site_id", sa.String(32), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("connected_at", TS, nullable=False),
    )
    op.create_index("ix_terminal_connections_node_id", "terminal_connections", ["node_id"])
    op.create_index("ix_terminal_connections_site_id", "terminal_connections", ["site_id"])
    op.create_table(
        "site_presence",
        sa.Column("site_id", sa.String(32), sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("since", TS, nullable=False),
    )
    directory = op.create_table(
        "site_directory",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.bulk_insert(directory, [{"id": 1, "last_seq": 0}])
    op.create_table(
        "calls",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("from_site_id", sa.String(32), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_index("ix_calls_meeting_id", "calls", ["meeting_id"])
    op.create_index("ix_calls_from_site_id", "calls", ["from_site_id"])
    op.create_index("ix_calls_created_at", "calls", ["created_at"])
    op.create_table(
        "call_sites",
        sa.Column("call_id", sa.String(32), sa.ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("site_id", sa.String(32), sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column(
            "participant_id", sa.String(32), sa.ForeignKey("participants.id", ondelete="SET NULL"), nullable=True
        ),
    )
    op.create_index("ix_call_sites_site_id", "call_sites", ["site_id"])
    op.create_index("ix_call_sites_ringing", "call_sites", ["state", "expires_at"])


def downgrade() -> None:
    for table in ("call_sites", "calls", "site_directory", "site_presence", "terminal_connections", "site_terminals"):
        op.drop_table(table)
