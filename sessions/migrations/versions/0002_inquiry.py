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
    pass


def downgrade() -> None:
    pass
