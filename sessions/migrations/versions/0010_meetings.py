"""meetings' kind, scheduled end and status times; join links' generations

Revision ID: 0010_meetings
Revises: 0009_people
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_meetings"
down_revision = "0009_people"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Meetings made before this revision are committee sessions until the
    # office says otherwise; their status and links keep working as before.
    op.add_column("meetings", sa.Column("kind", sa.String(16), nullable=False, server_default="committee"))
    op.add_column("meetings", sa.Column("ends_at", TS, nullable=True))
    op.add_column("meetings", sa.Column("opened_at", TS, nullable=True))
    op.add_column("meetings", sa.Column("started_at", TS, nullable=True))
    op.add_column("meetings", sa.Column("closed_at", TS, nullable=True))
    op.create_index("ix_meetings_created_at", "meetings", ["created_at"])
    # Generation 0 is every token issued so far (they carry no `gen`): they
    # keep working until their participant's link is re-issued.
    op.add_column("participants", sa.Column("token_generation", sa.Integer, nullable=False, server_default="0"))
    op.add_column("participants", sa.Column("token_issued_at", TS, nullable=True))
    op.execute("UPDATE participants SET token_issued_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("token_issued_at")
        batch.drop_column("token_generation")
    op.drop_index("ix_meetings_created_at", "meetings")
    with op.batch_alter_table("meetings") as batch:
        for column in ("closed_at", "started_at", "opened_at", "ends_at", "kind"):
            batch.drop_column(column)
