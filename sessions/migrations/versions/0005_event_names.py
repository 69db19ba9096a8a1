"""inquiry events are logged under `inquiry:<change>`, like every other feature's

Every meeting event's type is `<feature>:<name>`, the wire's convention; the
inquiry logged `inquiry.<change>` until now. Its events are read back by
type (the fold, the minutes), so the stored ones are renamed with them.

Revision ID: 0005_event_names
Revises: 0004_documents
"""
from alembic import op

revision = "0005_event_names"
down_revision = "0004_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE meeting_events SET type = 'inquiry:' || substr(type, 9) WHERE type LIKE 'inquiry.%'")


def downgrade() -> None:
    op.execute("UPDATE meeting_events SET type = 'inquiry.' || substr(type, 9) WHERE type LIKE 'inquiry:%'")
