"""Roles of the contract and what each may do."""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CHAIR = "chair"
    CLERK = "clerk"
    MEMBER = "member"
    DEPUTY = "deputy"
    RESPONDENT = "respondent"
    OBSERVER = "observer"


# The clerk operates for the chair: documents, recording, the queue.
OPERATORS = frozenset({Role.CHAIR, Role.CLERK})
OPERATORS_AND_ADMIN = OPERATORS | {Role.ADMIN}


class SiteKind(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    TOWNSHIP = "township"
    STATION = "station"
    DEPARTMENT = "department"


# Which kinds may sit under which: halls form a tree, stations hang under a
# district or a township, departments under the city.
ALLOWED_PARENTS: dict[SiteKind, frozenset[SiteKind | None]] = {
    SiteKind.CITY: frozenset({None}),
    SiteKind.DISTRICT: frozenset({SiteKind.CITY, None}),
    SiteKind.TOWNSHIP: frozenset({SiteKind.DISTRICT}),
    SiteKind.STATION: frozenset({SiteKind.DISTRICT, SiteKind.TOWNSHIP, SiteKind.CITY}),
    SiteKind.DEPARTMENT: frozenset({SiteKind.CITY, None}),
}
