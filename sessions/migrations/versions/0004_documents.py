"""synchronized documents tables

Revision ID: 0004_documents
Revises: 0003_voting
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_documents"
down_revision = "0003_voting"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("share_roles", sa.JSON, nullable=False),
        sa.Column("share_participants", sa.JSON, nullable=False),
        sa.Column("uploaded_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_documents_meeting_id", "documents", ["meeting_id"])
    op.create_table(
        "document_files",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "document_stages",
        sa.Column("meeting_id", sa.String(32), sa.ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("page", sa.Integer, nullable=True),
        sa.Column("presenter_id", sa.String(32), nullable=True),
        sa.Column("designated_id", sa.String(32), sa.ForeignKey("participants.id", ondelete="SET NULL"), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.create_table(
        "document_receipts",
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "participant_id", sa.String(32), sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("opened_at", TS, nullable=False),
    )
    op.create_table(
        "document_annotations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_id", sa.String(32), sa.ForeignKey("participants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("page", sa.Integer, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("document_id", "participant_id", "page", name="uq_document_annotations_page"),
    )


def downgrade() -> None:
    for table in ("document_annotations", "document_receipts", "document_stages", "documents", "document_files"):
        op.drop_table(table)
