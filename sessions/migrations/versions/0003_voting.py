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


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
