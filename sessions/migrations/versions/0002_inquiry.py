"""inquiry (专题询问) tables

Revision ID: 0002_inquiry
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_inquiry"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inquiry_floors",
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("deadline", sa.Float, nullable=True),
        sa.Column("topic_open", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("floor_control", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("stage", sa.String(16), nullable=False, server_default="idle"),
    )
    op.create_index("ix_inquiry_floors_deadline", "inquiry_floors", ["deadline"])


def downgrade() -> None:
    op.drop_index("ix_inquiry_floors_deadline", table_name="inquiry_floors")
    op.drop_table("inquiry_floors")
