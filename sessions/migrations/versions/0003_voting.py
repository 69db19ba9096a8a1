"""satisfaction voting tables

Revision ID: 0003_voting
Revises: 0002_inquiry
"""
from alembic import op
import sqlalchemy as sa

revision = "0003_voting"
down_revision = "0002_inquiry"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "votes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("batch_id", sa.String(32), nullable=True),
        sa.Column("respondent_id", sa.String(32), nullable=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("secret", sa.Boolean, nullable=False),
        sa.Column("eligible_roles", sa.JSON, nullable=False),
        sa.Column("base", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_by", sa.String(32), nullable=True),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closes_at", TS, nullable=True),
        sa.Column("key_salt", sa.LargeBinary(32), nullable=True),
        sa.Column("present_ids", sa.JSON, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("closed_by", sa.String(32), nullable=True),
        sa.Column("entitled_ids", sa.JSON, nullable=True),
        sa.Column("voter_ids", sa.JSON, nullable=True),
        sa.Column("counts", sa.JSON, nullable=True),
        sa.Column("cast", sa.Integer, nullable=True),
        sa.Column("eligible", sa.Integer, nullable=True),
        sa.Column("present", sa.Integer, nullable=True),
        sa.Column("verdict", sa.String(100), nullable=True),
        sa.Column("satisfaction_rate", sa.Float, nullable=True),
        sa.Column("valid", sa.Boolean, nullable=True),
        sa.Column("chain_head", sa.String(64), nullable=True),
    )
    op.create_index("ix_votes_meeting_id", "votes", ["meeting_id"])
    op.create_index("ix_votes_batch_id", "votes", ["batch_id"])
    op.create_index("ix_votes_status_closes_at", "votes", ["status", "closes_at"])
    # WITHOUT ROWID on SQLite: no hidden sequential id that records the order
    # in which voters took part or ballots arrived.
    op.create_table(
        "vote_participation",
        sa.Column("vote_id", sa.String(32), sa.ForeignKey("votes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("voter_id", sa.String(32), nullable=False),
        sa.Column("ballot_key", sa.String(64), nullable=False),
        sa.Column("receipt_box", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("vote_id", "voter_id", name="pk_vote_participation"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "vote_ballots",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("vote_id", sa.String(32), sa.ForeignKey("votes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slot", sa.String(64), nullable=True),
        sa.Column("voter_id", sa.String(32), nullable=True),
        sa.Column("choice", sa.String(100), nullable=False),
        sa.Column("receipt_hash", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=True),
        sa.Column("record_hash", sa.String(64), nullable=True),
        sa.UniqueConstraint("vote_id", "slot", name="uq_vote_ballots_slot"),
        sa.UniqueConstraint("vote_id", "receipt_hash", name="uq_vote_ballots_receipt"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_vote_ballots_vote_position", "vote_ballots", ["vote_id", "position"])


def downgrade() -> None:
    for table in ("vote_ballots", "vote_participation", "votes"):
        op.drop_table(table)
