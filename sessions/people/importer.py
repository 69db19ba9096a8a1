"""Reading the spreadsheets congress offices keep: bytes in, rows and
per-row errors out. Pure (no database, no I/O); CPU-bound, so the hub runs
it in a process of its own (read_worker.py, reading.py).

Files: XLSX (the first sheet) or CSV. A CSV is UTF-8, with or without a BOM,
or GB18030 (what Excel in China saves, GBK's superset) when it is not
UTF-8; comma-separated, or tab-separated when the header has tabs and no
commas. Anything else (a PDF renamed .xlsx, an old .xls, another archive,
binary data) is refused with `invalid` naming what it is.

The header is the first row naming the required columns (a title row or
two above it is skipped). Line numbers are the spreadsheet's: the header row
is line 1 when it is the first row (a blank row above it counts), and each record after it its row
number (a CSV cell spanning lines is one record, one row, as Excel shows it).
Blank rows are skipped but keep their numbers.

Columns are found by their header, in Chinese or English (`SITE_COLUMNS`,
`PEOPLE_COLUMNS`); a column with another header is ignored and reported.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sessions.errors import Invalid, TooLarge
from sessions.people.fields import CODE_MAX, GROUP_NAME_MAX, NAME_MAX, NOTE_MAX, check_text, normalize_phone
from sessions.people.kinds import LEVEL_WORDS, PERSON_KIND_WORDS, SITE_KIND_WORDS, Level, PersonKind, word
from sessions.roles import SiteKind

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
MAX_COLUMNS = 64
# An XLSX is a ZIP: its parts may inflate far beyond the 5 MB sent (a "zip
# bomb"); past this much XML it is refused before openpyxl reads it. A
# 20,000-row sheet of a directory is about 10 MB of XML.
MAX_XLSX_INFLATED = 64 * 1024 * 1024

PDF_MAGIC = b"%PDF"
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .doc: Office 97–2003

# field → the headers that name it (compared without spaces, case-insensitively).
SITE_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("名称", "name", "站点名称", "单位名称", "站点"),
    "kind": ("类型", "kind", "类别", "站点类型"),
    "parent": ("上级", "parent", "parent_id", "上级站点", "上级单位", "所属"),
}
PEOPLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "kind": ("类别", "kind", "身份", "人员类别"),
    "site": ("所属站点", "site", "site_id", "站点", "所属单位", "单位", "联络站"),
    "level": ("层级", "level", "代表层级", "级别"),
    "phone": ("电话", "phone", "手机", "联系电话", "手机号", "手机号码"),
    "committee": ("委员会", "committee", "groups", "分组", "所属委员会", "代表团"),
    "code": ("编号", "code", "代表编号", "代表证号"),
    "note": ("备注", "note"),
}
# How far down a title row or two may push the header.
HEADER_SCAN = 10
# Committee cells list group names separated by these.
GROUP_SEPARATORS = ("；", ";", "、")


@dataclass(frozen=True)
class Table:
    """A sheet's text: the header and each non-blank row after it, with the
    line the spreadsheet shows for it."""

    header: list[str]
    header_line: int
    rows: list[tuple[int, list[str]]]


@dataclass
class RowErrors:
    line: int
    errors: list[str]

    def to_dict(self) -> dict:
        return {"line": self.line, "errors": self.errors}


@dataclass(frozen=True)
class SiteRow:
    line: int
    name: str
    kind: SiteKind
    parent: str | None  # a site's id or name, as written


@dataclass(frozen=True)
class PersonRow:
    line: int
    name: str
    kind: PersonKind
    site: str | None  # a site's id or name, as written
    level: Level | None
    phone: str | None
    groups: tuple[str, ...]
    code: str | None
    note: str | None


@dataclass
class Parsed:
    rows: list = field(default_factory=list)
    errors: list[RowErrors] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


# -- bytes → table ---------------------------------------------------------------------------


def read_table(data: bytes) -> Table:
    """The first sheet of an XLSX, or a CSV; `Invalid`/`TooLarge` otherwise."""
    if len(data) > MAX_BYTES:
        raise TooLarge(f"the file is larger than {MAX_BYTES} bytes")
    if not data.strip():
        raise Invalid("the file is empty")
    if data.startswith(PDF_MAGIC):
        raise Invalid("the file is a PDF, not a spreadsheet: send an XLSX workbook or a CSV file")
    if data.startswith(OLE_MAGIC):
        raise Invalid("the file is an old Excel .xls (Office 97–2003) file: save it as .xlsx or CSV and send that")
    if data.startswith(ZIP_MAGIC):
        lines = _xlsx_lines(data)
    else:
        lines = _csv_lines(_decode(data))
    return _table(lines)


def _table(lines: list[tuple[int, list[str]]]) -> Table:
    filled = [(n, _trimmed(cells)) for n, cells in lines if any(c.strip() for c in cells)]
    if not filled:
        raise Invalid("the file has no rows")
    (header_line, header), rows = filled[0], filled[1:]
    if len(rows) > MAX_ROWS:
        raise TooLarge(f"the file has {len(rows)} rows; at most {MAX_ROWS} are imported at once")
    if len(header) > MAX_COLUMNS:
        raise Invalid(f"the header has {len(header)} columns; at most {MAX_COLUMNS} are read")
    return Table([h.strip().lstrip("\ufeff") for h in header], header_line, rows)


def _trimmed(cells: list[str]) -> list[str]:
    """Without the empty cells at the end (a sheet read to a column pads them)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _decode(data: bytes) -> str:
    if b"\x00" in data:
        raise Invalid("the file is neither an XLSX workbook nor a CSV text file (it holds binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise Invalid("the file is neither an XLSX workbook nor CSV text in UTF-8 or GB18030 (GBK)") from None
    # Text has line breaks and tabs; anything else of C0 means it was not text.
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text[:65536]):
        raise Invalid("the file is neither an XLSX workbook nor a CSV text file (it holds binary data)")
    return text


def _csv_lines(text: str) -> list[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    lines: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(reader, start=1):
            lines.append((number, cells[:MAX_COLUMNS + 1]))
            if number > MAX_ROWS + 10_000:  # blank rows count too; a bound all the same
                raise TooLarge(f"the file has more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise Invalid(f"the CSV cannot be read at line {reader.line_num}: {exc}") from None
    return lines


def _xlsx_lines(data: bytes) -> list[tuple[int, list[str]]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = set(archive.namelist())
        inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise Invalid("the file is a damaged ZIP archive, not a readable XLSX workbook") from None
    if "xl/workbook.xml" not in names:
        raise Invalid("the file is a ZIP archive but not an XLSX workbook (a .docx, .zip or .ods?)")
    if inflated > MAX_XLSX_INFLATED:
        raise TooLarge(f"the workbook inflates to {inflated} bytes; at most {MAX_XLSX_INFLATED} are read")
    # Imported here: openpyxl takes a while to import and only this needs it.
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises what its XML and zip layers raise
        raise Invalid(f"the XLSX workbook cannot be read ({type(exc).__name__})") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise Invalid("the workbook has no sheet")
        lines: list[tuple[int, list[str]]] = []
        try:
            for number, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), start=1):
                lines.append((number, [_cell_text(v) for v in values]))
                if number > MAX_ROWS + 10_000:
                    raise TooLarge(f"the sheet has more than {MAX_ROWS} rows")
        except (Invalid, TooLarge):
            raise
        except Exception as exc:
            raise Invalid(f"the XLSX workbook cannot be read ({type(exc).__name__})") from None
        return lines
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))  # a phone or a number typed into a cell Excel calls numeric
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


# -- table → rows ----------------------------------------------------------------------------


def _columns(table: Table, known: dict[str, tuple[str, ...]],
             required: tuple[str, ...]) -> tuple[Table, dict[str, int], list[str]]:
    """The table from its header row on, field → column index, and the
    headers that name no field.

    Offices often put a title above the header (a merged "2026年东城区人大代表
    名单" row): the header is the first of the first `HEADER_SCAN` non-blank
    rows that names every required field; rows above it are not data."""
    candidates = [(table.header_line, table.header), *table.rows[:HEADER_SCAN - 1]]
    for index, (line, cells) in enumerate(candidates):
        if _names_fields(cells, known, required):
            header = [c.strip().lstrip("\ufeff") for c in cells]
            table = Table(header, line, table.rows[index:])
            break
    found, ignored = _header_columns(table, known)
    missing = [name for name in required if name not in found]
    if missing:
        wanted = "; ".join(f"{name}: {' / '.join(known[name][:2])}" for name in missing)
        raise Invalid(f"the header (line {table.header_line}) has no column for {wanted}")
    return table, found, ignored


def _names_fields(cells: list[str], known: dict[str, tuple[str, ...]], required: tuple[str, ...]) -> bool:
    keys = {"".join(c.split()).lower().lstrip("\ufeff") for c in cells}
    return all(any(a.lower() in keys for a in known[name]) for name in required)


def _header_columns(table: Table, known: dict[str, tuple[str, ...]]) -> tuple[dict[str, int], list[str]]:
    alias = {a.lower(): name for name, aliases in known.items() for a in aliases}
    found: dict[str, int] = {}
    ignored: list[str] = []
    for index, header in enumerate(table.header):
        key = "".join(header.split()).lower()
        if not key:
            continue
        name = alias.get(key)
        if name is None:
            ignored.append(header)
        elif name in found:
            raise Invalid(f"columns {table.header[found[name]]!r} and {header!r} both give the {name}")
        else:
            found[name] = index
    return found, ignored


def _getter(cells: list[str], columns: dict[str, int]):
    def get(name: str) -> str:
        index = columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""
    return get


def parse_sites(table: Table) -> Parsed:
    """Rows of `name, kind, parent` (名称, 类型, 上级)."""
    table, columns, ignored = _columns(table, SITE_COLUMNS, ("name", "kind"))
    parsed = Parsed(ignored_columns=ignored)
    for line, cells in table.rows:
        get, errors = _getter(cells, columns), []
        name = _text(get("name"), NAME_MAX, "name", errors, required=True)
        kind = _choice(get("kind"), SITE_KIND_WORDS, "kind", "a site kind (市/区/镇(街道)/联络站/部门 or "
                       "city/district/township/station/department)", errors, required=True)
        parent = _text(get("parent"), NAME_MAX, "parent", errors) or None
        if errors:
            parsed.errors.append(RowErrors(line, errors))
        else:
            parsed.rows.append(SiteRow(line, name, kind, parent))  # type: ignore[arg-type]
    return parsed


def parse_people(table: Table) -> Parsed:
    """Rows of 姓名, 类别, 所属站点, 层级, 电话, 委员会, 编号, 备注 (only 姓名 is required;
    a blank 类别 is a deputy)."""
    table, columns, ignored = _columns(table, PEOPLE_COLUMNS, ("name",))
    parsed = Parsed(ignored_columns=ignored)
    for line, cells in table.rows:
        get, errors = _getter(cells, columns), []
        name = _text(get("name"), NAME_MAX, "name", errors, required=True)
        kind = _choice(get("kind"), PERSON_KIND_WORDS, "kind", "a kind of person (代表/委员/部门负责人/工作人员/其他 or "
                       "deputy/member/department_head/staff/other)", errors) or PersonKind.DEPUTY
        site = _text(get("site"), NAME_MAX, "site", errors) or None
        level = _choice(get("level"), LEVEL_WORDS, "level", "a congress level (全国/省/市/区/镇 or "
                        "national/provincial/city/district/township)", errors)
        phone = _phone(get("phone"), errors)
        groups = _groups(get("committee"), errors)
        code = _text(get("code"), CODE_MAX, "code", errors) or None
        note = _text(get("note"), NOTE_MAX, "note", errors, multiline=True) or None
        if errors:
            parsed.errors.append(RowErrors(line, errors))
        else:
            parsed.rows.append(PersonRow(line, name, kind, site, level, phone, groups, code, note))  # type: ignore[arg-type]
    return parsed


def _text(value: str, limit: int, what: str, errors: list[str], *, required: bool = False,
          multiline: bool = False) -> str:
    if not value:
        if required:
            errors.append(f"{what}: is empty")
        return ""
    try:
        return check_text(value, limit, multiline=multiline)
    except ValueError as exc:
        errors.append(f"{what}: {exc}")
        return ""


def _choice(value: str, words: dict, what: str, expected: str, errors: list[str], *, required: bool = False):
    if not value:
        if required:
            errors.append(f"{what}: is empty; expected {expected}")
        return None
    found = word(words, value)
    if found is None:
        # repr(): a control character in the cell is shown escaped, never echoed.
        errors.append(f"{what}: {value[:40]!r} is not {expected}")
    return found


def _phone(value: str, errors: list[str]) -> str | None:
    if not value:
        return None
    try:
        return normalize_phone(value)
    except ValueError as exc:
        errors.append(f"phone: {exc}")
        return None


def _groups(value: str, errors: list[str]) -> tuple[str, ...]:
    for separator in GROUP_SEPARATORS[1:]:
        value = value.replace(separator, GROUP_SEPARATORS[0])
    names: list[str] = []
    for part in value.split(GROUP_SEPARATORS[0]):
        name = _text(part, GROUP_NAME_MAX, "committee", errors)
        if name and name not in names:
            names.append(name)
    return tuple(names)
