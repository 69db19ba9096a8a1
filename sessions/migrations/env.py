"""Alembic environment: always handed a live connection by sessions.db."""
from alembic import context

from sessions.models import Base
import sessions.all_models  # noqa: F401  (registers every feature's tables on Base)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
