"""What text, ids and scalars the hub accepts at its edge: one definition for
every REST body, Socket.IO payload, path id and query value.

Why: PostgreSQL refuses a NUL in text (the request then failed with a 500)
while SQLite stores it, so the same input behaved differently per database;
lone surrogates (JSON's "\\ud800") cannot be encoded for either. Control
characters have no place in a name or a title. The rules, per kind of field:

- `Line` (names, titles, subjects, options, choices): no control character
  at all (C0 including tab and newlines, DEL, C1) and no lone surrogate.
- `Text` (multi-line free text: annotation notes): the same, except tab,
  line feed and carriage return.
- `Id` (row ids, given in payloads): 1 to 64 characters, no control
  character, no space, no lone surrogate. An id that passes but names
  nothing is `not_found` further in.
- Every string anywhere in a body or payload (the `EdgeModel` net, for
  fields typed plain `str` such as SDP) follows the `Text` rule.

Scalars are strict: a number is a JSON number (not "1", not true), a boolean
is true or false, a time is an ISO 8601 string (years 1970 to 9000). pydantic's strict mode on a
whole model would also refuse "member" for an enum, so strictness is per
field through these types.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sessions.errors import Invalid

# C0 controls, DEL, C1 controls, lone surrogates.
_NOT_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same, less tab, line feed and carriage return.
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_ID = re.compile(r"[\x00-\x20\x7f-\x9f\ud800-\udfff]")

MAX_ID_LENGTH = 64


def flaw(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` is refused as text, or None when it is fine."""
    found = (_NOT_IN_TEXT if multiline else _NOT_IN_LINE).search(value)
    if found is None:
        return None
    return _describe(found)


def id_flaw(value: str) -> str | None:
    """Why `value` is refused as an id, or None when it is fine."""
    if not value:
        return "is empty"
    if len(value) > MAX_ID_LENGTH:
        return f"is longer than {MAX_ID_LENGTH} characters"
    found = _NOT_IN_ID.search(value)
    return _describe(found) if found else None


def _describe(found: re.Match[str]) -> str:
    char = found.group()
    point = ord(char)
    kind = "a lone surrogate" if 0xD800 <= point <= 0xDFFF else "a space" if char == " " else "a control character"
    return f"contains U+{point:04X} ({kind}) at position {found.start()}"


def check_line(value: str, what: str) -> str:
    """For text that does not come through a pydantic model (multipart fields)."""
    problem = flaw(value)
    if problem:
        raise Invalid(f"{what} {problem}")
    return value


def check_id(value: str, what: str) -> str:
    problem = id_flaw(value)
    if problem:
        raise Invalid(f"{what} {problem}")
    return value


def _line(value: str) -> str:
    problem = flaw(value)
    if problem:
        raise PydanticCustomError("control_character", "must be one line of text; it {problem}", {"problem": problem})
    return value


def _text(value: str) -> str:
    problem = flaw(value, multiline=True)
    if problem:
        raise PydanticCustomError("control_character", "text {problem}", {"problem": problem})
    return value


def _id(value: str) -> str:
    problem = id_flaw(value)
    if problem:
        raise PydanticCustomError("bad_id", "id {problem}", {"problem": problem})
    return value


_NUMERIC = re.compile(r"\s*[+-]?\d+(\.\d*)?\s*")
# Far enough either way for any meeting, near enough that converting an
# offset never leaves what Python and the databases can hold (0001-01-01
# at +14:00 made PostgreSQL fail).
EARLIEST_YEAR, LATEST_YEAR = 1970, 9000


def _iso_only(value: Any) -> Any:
    # pydantic would also read a number, or a string of digits, as a Unix time.
    if not isinstance(value, str) or _NUMERIC.fullmatch(value):
        raise PydanticCustomError("datetime_type", "must be an ISO 8601 date-time string")
    return value


def _sane_year(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError("datetime_range", "must be between the years {lo} and {hi}",
                                  {"lo": EARLIEST_YEAR, "hi": LATEST_YEAR})
    return value


Line = Annotated[str, Strict(), AfterValidator(_line)]
Text = Annotated[str, Strict(), AfterValidator(_text)]
Id = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_id)]

Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
# JSON numbers: an integer is a fine float; NaN and infinities are not numbers here.
Number = Annotated[float, Strict(), AllowInfNan(False)]
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_sane_year)]


Where = tuple  # (key, parent Where) or (); built in O(1) per level


def _strings_in(data: Any) -> Iterator[tuple[Where, str]]:
    """Every string (keys too) in a JSON-like tree, with where it is.
    Iterative, and the path is only spelled out on a refusal: a payload's
    depth is not this function's to trust."""
    stack: list[tuple[Where, Any]] = [((), data)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, str):
            yield where, node
        elif isinstance(node, dict):
            for key, value in node.items():
                path = (key, where)
                if isinstance(key, str):
                    yield ("(the key)", path), key
                stack.append((path, value))
        elif isinstance(node, (list, tuple)):
            stack.extend(((i, where), item) for i, item in enumerate(node))


def _spell(where: Where) -> str:
    """The path for a message: never echoing a control character back, and
    short (the tail of a deep one)."""
    parts: list[str] = []
    while where:
        key, where = where
        parts.append(_NOT_IN_LINE.sub(lambda m: f"\\u{ord(m.group()):04x}", str(key)))
        if len(parts) > 12:
            parts.append("…")
            break
    return ".".join(reversed(parts)).replace(".(the key)", " (the key)")


class EdgeModel(BaseModel):
    """Base of every REST body and Socket.IO payload: unknown fields are an
    error, and no string anywhere in it may carry a NUL, another control
    character (tab and newlines aside) or a lone surrogate; fields typed
    `Line`/`Id` narrow this further."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        for where, value in _strings_in(data):
            problem = flaw(value, multiline=True)
            if problem:
                raise PydanticCustomError("control_character", "{where} {problem}",
                                          {"where": _spell(where) or "the value", "problem": problem})
        return data
