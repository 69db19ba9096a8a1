"""Reading offices' spreadsheets and planning an import: pure, no database."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from sessions.errors import Invalid, TooLarge
from sessions.people import importer
from sessions.people.importer import parse_people, parse_sites, read_table
from sessions.people.kinds import Level, PersonKind
from sessions.people.plan import KnownPeople, KnownSite, plan_people, plan_sites
from sessions.roles import SiteKind


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


SITES_CSV = "名称,类型,上级\n市人大常委会,市,\n东城区人大,区,市人大常委会\n东城第1镇（街道）人大,镇(街道),东城区人大\n联络站 01,联络站,东城第1镇（街道）人大\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_in_utf8_with_or_without_bom_and_in_gbk(encoding):
    parsed = parse_sites(read_table(SITES_CSV.encode(encoding)))
    assert not parsed.errors
    assert [(r.line, r.name, r.kind, r.parent) for r in parsed.rows] == [
        (2, "市人大常委会", SiteKind.CITY, None),
        (3, "东城区人大", SiteKind.DISTRICT, "市人大常委会"),
        (4, "东城第1镇（街道）人大", SiteKind.TOWNSHIP, "东城区人大"),
        (5, "联络站 01", SiteKind.STATION, "东城第1镇（街道）人大"),
    ]


def test_xlsx_numbers_become_text_and_blank_rows_keep_their_line_numbers():
    data = xlsx([["姓名", "电话", "编号", "层级", "委员会", "性别"],
                 ["张三", 13800138000, 1001, "市级", "教科文卫委员会；财经委员会", "男"],
                 [None, None, None, None, None, None],
                 ["李四", "139 0000 1111", "D-2", "区", "财经委员会;财经委员会", "女"]])
    parsed = parse_people(read_table(data))
    assert not parsed.errors and parsed.ignored_columns == ["性别"]
    zhang, li = parsed.rows
    assert (zhang.line, zhang.phone, zhang.code, zhang.level, zhang.kind) == (2, "13800138000", "1001", Level.CITY,
                                                                            PersonKind.DEPUTY)
    assert zhang.groups == ("教科文卫委员会", "财经委员会")
    assert (li.line, li.phone, li.groups, li.level) == (4, "13900001111", ("财经委员会",), Level.DISTRICT)


def test_bad_rows_are_listed_with_their_spreadsheet_lines():
    csv = "姓名,类别,电话\n张三,代表,12\n,代表,13800138000\n王五,国王,13800138001\n赵六,委员,电话号码\n"
    parsed = parse_people(read_table(csv.encode()))
    assert [r.name for r in parsed.rows] == []  # 12 is too short for a phone
    lines = {e.line: e.errors for e in parsed.errors}
    assert sorted(lines) == [2, 3, 4, 5]
    assert "name: is empty" in lines[3]
    assert any("'国王' is not a kind of person" in e for e in lines[4])
    assert any(e.startswith("phone:") for e in lines[5])


def test_a_title_row_above_the_header_is_skipped():
    data = xlsx([["2026年东城区人大代表名单"], [], ["序号", "姓名", "电话"], [1, "张三", "13800138000"]])
    parsed = parse_people(read_table(data))
    assert [(r.line, r.name) for r in parsed.rows] == [(4, "张三")] and parsed.ignored_columns == ["序号"]
    with pytest.raises(Invalid, match=r"header \(line 1\) has no column for name"):
        parse_people(read_table("名单\n序号,电话\n1,13800138000\n".encode()))


def test_a_quoted_cell_spanning_lines_is_one_row():
    csv = '姓名,备注\n张三,"第一行\n第二行"\n李四,\n'
    parsed = parse_people(read_table(csv.encode()))
    assert [(r.line, r.name, r.note) for r in parsed.rows] == [(2, "张三", "第一行\n第二行"), (3, "李四", None)]


@pytest.mark.parametrize("data, words", [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "is a PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel .xls"),
    (b"PK\x03\x04" + b"\x00" * 100, "damaged ZIP"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
    (b"", "empty"),
    (b"\n\n ,, \n", "no rows"),
    (b"\xff\xfe\xfa\xfb\x80\x81", "neither an XLSX workbook nor CSV text"),
])
def test_what_is_not_a_spreadsheet_is_refused_clearly(data, words):
    with pytest.raises(Invalid) as refused:
        read_table(data)
    assert words in refused.value.message


def test_a_zip_that_is_no_workbook_and_a_docx_are_refused():
    out = io.BytesIO()
    import zipfile
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w/>")
    with pytest.raises(Invalid, match="not an XLSX workbook"):
        read_table(out.getvalue())


def test_limits():
    with pytest.raises(TooLarge):
        read_table(b"a" * (importer.MAX_BYTES + 1))
    rows = "姓名\n" + "张三\n" * (importer.MAX_ROWS + 1)
    with pytest.raises(TooLarge, match="rows"):
        read_table(rows.encode())


def test_missing_and_repeated_columns():
    with pytest.raises(Invalid, match="no column for name"):
        parse_people(read_table("电话,编号\n1,2\n".encode()))
    with pytest.raises(Invalid, match="both give the name"):
        parse_people(read_table("姓名,name\n张三,张三\n".encode()))
    with pytest.raises(Invalid, match="kind"):
        parse_sites(read_table("名称,上级\n甲,\n".encode()))


# -- planning ---------------------------------------------------------------------------------

CITY = KnownSite("c1", "市人大常委会", "city", None)
EAST = KnownSite("d1", "东城区人大", "district", "c1")


def test_sites_plan_resolves_parents_in_any_order_and_skips_what_exists():
    rows = parse_sites(read_table("名称,类型,上级\n联络站 01,联络站,东城第1镇\n东城第1镇,镇,东城区人大\n"
                                  "东城区人大,区,市人大常委会\n东城第1镇,镇,d1\n".encode())).rows
    plan = plan_sites(rows, [CITY, EAST])
    assert not plan.errors
    township, station = plan.creates  # parents first
    assert (township.line, township.parent_id) == (3, "d1")
    assert (station.line, station.parent_id) == (2, township.id)
    assert [d.to_dict() for d in plan.duplicates] == [
        {"line": 4, "reason": "site", "existing_id": "d1"},
        {"line": 5, "reason": "site", "duplicate_of_line": 3},
    ]


def test_sites_plan_refuses_loops_unknown_and_ambiguous_parents_and_wrong_kinds():
    other_east = KnownSite("d2", "东城区人大", "district", "c1")
    rows = parse_sites(read_table("名称,类型,上级\n甲镇,镇,乙镇\n乙镇,镇,甲镇\n丙站,联络站,不存在\n"
                                  "丁镇,镇,东城区人大\n戊镇,镇,市人大常委会\n".encode())).rows
    plan = plan_sites(rows, [CITY, EAST, other_east])
    errors = {e.line: " ".join(e.errors) for e in plan.errors}
    assert sorted(errors) == [2, 3, 4, 5, 6]
    assert "loop" in errors[2] or "loop" in errors[3]
    assert "neither a site's id or name" in errors[4]
    assert "names 2 sites" in errors[5]
    assert "a township cannot sit under a city" in errors[6]
    assert not plan.creates or all(c.line not in errors for c in plan.creates)


def test_people_plan_finds_duplicates_in_the_file_and_the_directory_and_new_groups():
    csv = ("姓名,电话,编号,所属站点,委员会\n张三,13800138000,A1,东城区人大,财经委员会\n张三,138-0013-8000,,,\n"
           "李四,,A1,,\n王五,13900000000,,d1,新委员会\n赵六,,B9,,\n钱七,,,不存在的站,\n")
    rows = parse_people(read_table(csv.encode())).rows
    known = KnownPeople(by_code={"B9": "p-b9"}, by_name_phone={("王五", "13900000000"): "p-ww"},
                        groups={"财经委员会": "g-fin"})
    plan = plan_people(rows, [CITY, EAST], known)
    assert [e.line for e in plan.errors] == [7]
    assert [d.to_dict() for d in plan.duplicates] == [
        {"line": 3, "reason": "name_phone", "duplicate_of_line": 2},
        {"line": 4, "reason": "code", "duplicate_of_line": 2},
        {"line": 5, "reason": "name_phone", "existing_id": "p-ww"},
        {"line": 6, "reason": "code", "existing_id": "p-b9"},
    ]
    (zhang,) = plan.creates
    assert zhang.site_id == "d1" and zhang.group_ids == ("g-fin",) and plan.new_groups == {}


async def test_the_reader_process_answers_rows_and_refusals():
    from sessions.people.reading import INLINE_BYTES, read_rows

    # An ignored column makes it larger than what is read in a thread.
    lines = SITES_CSV.splitlines()
    padded = "\n".join([lines[0] + ",说明"] + [line + "," + "说" * 40_000 for line in lines[1:]]).encode("gbk")
    assert len(padded) > INLINE_BYTES
    parsed = await read_rows(padded, "sites")
    assert [(r.line, r.kind) for r in parsed.rows] == [(2, SiteKind.CITY), (3, SiteKind.DISTRICT),
                                                       (4, SiteKind.TOWNSHIP), (5, SiteKind.STATION)]
    parsed = await read_rows(xlsx([["姓名", "层级", "委员会", "性别"], ["张三", "市", "甲；乙", "男"], ["", "", "", "女"]]),
                             "people")
    assert parsed.rows == [importer.PersonRow(2, "张三", PersonKind.DEPUTY, None, Level.CITY, None, ("甲", "乙"), None, None)]
    assert [e.to_dict() for e in parsed.errors] == [{"line": 3, "errors": ["name: is empty"]}]
    assert parsed.ignored_columns == ["性别"]
    with pytest.raises(Invalid, match="PDF"):
        await read_rows(b"%PDF-1.7\n", "people")


def test_a_workbook_that_inflates_too_far_is_refused_unread():
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (importer.MAX_XLSX_INFLATED + 1))
    assert len(out.getvalue()) < importer.MAX_BYTES
    with pytest.raises(TooLarge, match="inflates"):
        read_table(out.getvalue())
