"""What an import would do, decided before anything is written: the parsed
rows matched against a snapshot of the directory. Pure (the snapshot is
handed in), so an import and its dry run give the same report.

Sites. A row's `parent` is an existing site's id, or a name: of an existing
site or of another row of the file (in any order). A name that names more
than one site is refused ("give its id"); a parent that is in the file is
made first. The tree's rules hold (`sessions.roles.ALLOWED_PARENTS`: a
township under a district…). A row naming the same name, kind and parent as
an existing site (or an earlier row) is a duplicate: skipped, reported, and
a later row may still name it as its parent (so re-importing a file adds
nothing and refuses nothing).

People. `site` is an existing site's id or its name (one site). A row is a
duplicate when its `code` is already someone's, or its name and phone are,
in the directory or on an earlier row: skipped and reported. Committees
named that do not exist yet are made (kind `committee`).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sessions.models import new_id
from sessions.people.importer import PersonRow, RowErrors, SiteRow
from sessions.people.kinds import Level, PersonKind
from sessions.roles import ALLOWED_PARENTS, SiteKind


@dataclass(frozen=True)
class KnownSite:
    id: str
    name: str
    kind: str
    parent_id: str | None


@dataclass(frozen=True)
class Duplicate:
    line: int
    reason: str  # "site", "code", "name_phone"
    existing_id: str | None = None
    duplicate_of_line: int | None = None

    def to_dict(self) -> dict:
        out: dict = {"line": self.line, "reason": self.reason}
        if self.existing_id is not None:
            out["existing_id"] = self.existing_id
        if self.duplicate_of_line is not None:
            out["duplicate_of_line"] = self.duplicate_of_line
        return out


@dataclass(frozen=True)
class NewSite:
    line: int
    id: str
    name: str
    kind: SiteKind
    parent_id: str | None


@dataclass(frozen=True)
class NewPerson:
    line: int
    id: str
    name: str
    kind: PersonKind
    site_id: str | None
    level: Level | None
    phone: str | None
    code: str | None
    note: str | None
    group_ids: tuple[str, ...]


@dataclass
class Plan:
    """Rows to create (parents before children), duplicates skipped, errors."""

    creates: list = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    errors: list[RowErrors] = field(default_factory=list)
    new_groups: dict[str, str] = field(default_factory=dict)  # name → new id

    def refuse(self, line: int, message: str) -> None:
        for row in self.errors:
            if row.line == line:
                row.errors.append(message)
                return
        self.errors.append(RowErrors(line, [message]))


# -- sites ------------------------------------------------------------------------------------


_IN_PROGRESS = object()
_FAILED = object()


def plan_sites(rows: list[SiteRow], existing: Iterable[KnownSite]) -> Plan:
    sites = {s.id: s for s in existing}
    named: dict[str, list[str]] = defaultdict(list)
    for site in sites.values():
        named[site.name].append(site.id)
    rows_named: dict[str, list[SiteRow]] = defaultdict(list)
    for row in rows:
        rows_named[row.name].append(row)
    plan = Plan()
    # line → the id the row stands for (new, or the existing site it repeats), or a marker.
    resolved: dict[int, object] = {}
    kinds: dict[str, str] = {s.id: s.kind for s in sites.values()}
    seen: dict[tuple[str, str, str | None], tuple[int, str]] = {}  # (name, kind, parent) → (line, id)
    by_key = {(s.name, s.kind, s.parent_id): s.id for s in sites.values()}

    def parent_of(row: SiteRow) -> str | None | object:
        ref = row.parent
        if ref is None:
            return None
        if ref in sites:
            return ref
        targets: set[str] = set(named.get(ref, ()))
        for other in rows_named.get(ref, ()):
            if other.line == row.line:
                continue
            target = resolve(other)
            if target is _IN_PROGRESS:
                plan.refuse(row.line, f"parent: {ref!r} leads back to this row (a loop in the file)")
                return _FAILED
            if target is _FAILED:
                plan.refuse(row.line, f"parent: {ref!r} (line {other.line}) is itself refused")
                return _FAILED
            targets.add(target)  # type: ignore[arg-type]
        if not targets:
            plan.refuse(row.line, f"parent: {ref!r} is neither a site's id or name in the directory "
                                  f"nor a row of this file")
            return _FAILED
        if len(targets) > 1:
            plan.refuse(row.line, f"parent: {ref!r} names {len(targets)} sites; give the parent's id")
            return _FAILED
        return targets.pop()

    def resolve(row: SiteRow) -> object:
        state = resolved.get(row.line)
        if state is not None:
            return state
        resolved[row.line] = _IN_PROGRESS
        parent_id = parent_of(row)
        if parent_id is _FAILED:
            resolved[row.line] = _FAILED
            return _FAILED
        parent_kind = SiteKind(kinds[parent_id]) if parent_id is not None else None  # type: ignore[index]
        if parent_kind not in ALLOWED_PARENTS[row.kind]:
            under = f"a {parent_kind.value} ({row.parent})" if parent_kind else "nothing"
            plan.refuse(row.line, f"kind: a {row.kind.value} cannot sit under {under}")
            resolved[row.line] = _FAILED
            return _FAILED
        key = (row.name, row.kind.value, parent_id)
        if key in by_key:
            plan.duplicates.append(Duplicate(row.line, "site", existing_id=by_key[key]))
            target = by_key[key]
        elif key in seen:
            # Usually an earlier line; a later one when it was resolved first,
            # as the parent an earlier row named.
            plan.duplicates.append(Duplicate(row.line, "site", duplicate_of_line=seen[key][0]))
            target = seen[key][1]
        else:
            target = new_id()
            seen[key] = (row.line, target)
            kinds[target] = row.kind.value
            plan.creates.append(NewSite(row.line, target, row.name, row.kind, parent_id))  # type: ignore[arg-type]
        resolved[row.line] = target
        return target

    for row in sorted(rows, key=lambda r: r.line):
        resolve(row)
    plan.errors.sort(key=lambda e: e.line)
    plan.duplicates.sort(key=lambda d: d.line)
    return plan


# -- people -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownPeople:
    """The directory's people the file's rows could repeat (looked up by the
    caller for just these codes and names), and the groups by name."""

    by_code: dict[str, str]
    by_name_phone: dict[tuple[str, str], str]
    groups: dict[str, str]


def site_lookup(sites: Iterable[KnownSite]):
    """A function from a cell (a site's id, or its name) to (id, None) or (None, why not)."""
    by_id = {s.id: s for s in sites}
    named: dict[str, list[str]] = defaultdict(list)
    for site in by_id.values():
        named[site.name].append(site.id)

    def find(ref: str) -> tuple[str | None, str | None]:
        if ref in by_id:
            return ref, None
        ids = named.get(ref, [])
        if len(ids) == 1:
            return ids[0], None
        if not ids:
            return None, f"site: {ref!r} is neither the id nor the name of a site in the directory (import the sites first)"
        return None, f"site: {ref!r} names {len(ids)} sites; give the site's id"

    return find


def plan_people(rows: list[PersonRow], sites: Iterable[KnownSite], known: KnownPeople) -> Plan:
    plan = Plan()
    find_site = site_lookup(sites)
    codes: dict[str, int] = {}
    name_phones: dict[tuple[str, str], int] = {}
    for row in sorted(rows, key=lambda r: r.line):
        site_id = None
        if row.site is not None:
            site_id, problem = find_site(row.site)
            if problem:
                plan.refuse(row.line, problem)
                continue
        duplicate = _person_duplicate(row, known, codes, name_phones)
        if duplicate is not None:
            plan.duplicates.append(duplicate)
            continue
        if row.code is not None:
            codes[row.code] = row.line
        if row.phone is not None:
            name_phones[(row.name, row.phone)] = row.line
        group_ids = []
        for name in row.groups:
            group_id = known.groups.get(name) or plan.new_groups.setdefault(name, new_id())
            group_ids.append(group_id)
        plan.creates.append(NewPerson(row.line, new_id(), row.name, row.kind, site_id, row.level, row.phone,
                                      row.code, row.note, tuple(group_ids)))
    return plan


def _person_duplicate(row: PersonRow, known: KnownPeople, codes: dict[str, int],
                      name_phones: dict[tuple[str, str], int]) -> Duplicate | None:
    if row.code is not None:
        if row.code in known.by_code:
            return Duplicate(row.line, "code", existing_id=known.by_code[row.code])
        if row.code in codes:
            return Duplicate(row.line, "code", duplicate_of_line=codes[row.code])
    if row.phone is not None:
        key = (row.name, row.phone)
        if key in known.by_name_phone:
            return Duplicate(row.line, "name_phone", existing_id=known.by_name_phone[key])
        if key in name_phones:
            return Duplicate(row.line, "name_phone", duplicate_of_line=name_phones[key])
    return None
