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


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
