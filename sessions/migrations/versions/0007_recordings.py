"""recordings and their files

Revision ID: 0007_recordings
Revises: 0006_sites
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_recordings"
down_revision = "0006_sites"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("stopped_at", TS, nullable=True),
        sa.Column("started_by", sa.String(32), nullable=True),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("export_state", sa.String(16), nullable=True),
        sa.Column("export_progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("export_error", sa.String(500), nullable=True),
        sa.Column("export_node", sa.String(32), nullable=True),
    )
    op.create_index("ix_recordings_meeting", "recordings", ["meeting_id", "started_at"])
    op.create_table(
        "recording_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recording_id", sa.String(32), sa.ForeignKey("recordings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("participant_id", sa.String(32), nullable=True),
        sa.Column("node_id", sa.String(32), nullable=True),
        sa.Column("segment", sa.Integer, nullable=False, server_default="0"),
        sa.Column("tracks", sa.JSON, nullable=False),
        sa.Column("offset_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("bytes", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="writing"),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("recording_id", "name", name="uq_recording_files_name"),
    )
    op.create_index("ix_recording_files_recording_id", "recording_files", ["recording_id"])


def downgrade() -> None:
    op.drop_table("recording_files")
    op.drop_table("recordings")
