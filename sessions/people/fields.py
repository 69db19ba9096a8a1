"""A person's fields as the directory keeps them: one rule for the REST
bodies and the imported spreadsheets alike."""
from __future__ import annotations

import re

from sessions.text import flaw

NAME_MAX = 200
PHONE_MAX = 32
CODE_MAX = 64
NOTE_MAX = 2000
GROUP_NAME_MAX = 200

# Spaces, dashes, dots and brackets are how people write numbers, not part of
# them: "138 0013 8000", "010-6512 3456" and "(010)65123456" are kept as
# digits, so the same phone written twice is found as a duplicate.
PHONE_DECOR = re.compile(r"[\s\-.()（）]")
_PHONE = re.compile(r"\+?\d{3,20}(?:[,;#转]\d{1,8})?")


def normalize_phone(value: str) -> str:
    """The phone as stored; ValueError (with the reason) when it is no phone number."""
    problem = flaw(value)
    if problem:
        raise ValueError(f"must be one line of text; it {problem}")
    phone = PHONE_DECOR.sub("", value)
    if not _PHONE.fullmatch(phone):
        raise ValueError(f"{value[:40]!r} is not a phone number (digits, an optional leading +, an extension after 转)")
    if len(phone) > PHONE_MAX:
        raise ValueError(f"is longer than {PHONE_MAX} characters")
    return phone


def check_text(value: str, limit: int, *, multiline: bool = False) -> str:
    """Trimmed `value`; ValueError when it has a control character or is too long."""
    value = value.strip()
    problem = flaw(value, multiline=multiline)
    if problem:
        raise ValueError(f"must be {'text' if multiline else 'one line of text'}; it {problem}")
    if len(value) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return value
