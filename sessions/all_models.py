"""Imports every module that declares tables, so metadata is complete."""
import sessions.accounts.models  # noqa: F401
import sessions.documents.models  # noqa: F401
import sessions.inquiry.models  # noqa: F401
import sessions.models  # noqa: F401
import sessions.people.models  # noqa: F401
import sessions.sites.models  # noqa: F401
import voting.models  # noqa: F401
import recordings.models  # noqa: F401
