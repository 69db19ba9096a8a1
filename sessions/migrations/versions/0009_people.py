"""the people directory, its groups, and participants.person_id

Revision ID: 0009_people
Revises: 0008_accounts
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_people"
down_revision = "0008_accounts"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("site_id", sa.String(32), sa.ForeignKey("sites.id"), nullable=True),
        sa.Column("level", sa.String(16), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("code", sa.String(64), nullable=True, unique=True),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("name", "phone", name="uq_people_name_phone"),
    )
    op.create_index("ix_people_site_id", "people", ["site_id"])
    op.create_index("ix_people_phone", "people", ["phone"])
    op.create_index("ix_people_name", "people", ["name"])
    op.create_table(
        "person_groups",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "person_group_members",
        sa.Column("group_id", sa.String(32), sa.ForeignKey("person_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_person_group_members_person_id", "person_group_members", ["person_id"])
    # Not batch mode: on SQLite that would copy `participants`, which half
    # the schema references, and alembic's add_column cannot add the foreign
    # key there. ADD COLUMN with an inline REFERENCES is the same statement
    # on both databases (nullable, no default: allowed by SQLite).
    op.execute("ALTER TABLE participants ADD COLUMN person_id VARCHAR(32) REFERENCES people (id)")
    op.create_index("ix_participants_person_id", "participants", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_participants_person_id", table_name="participants")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("person_id")
    op.drop_table("person_group_members")
    op.drop_table("person_groups")
    op.drop_table("people")
