"""The people directory over REST, on SQLite and PostgreSQL: imports, search,
groups, inviting from the directory, and a person's meetings."""
from __future__ import annotations

import io

import aiohttp
from openpyxl import Workbook

from tests.accounts.kit import make_account, session_token

SITES_CSV = ("名称,类型,上级\n"
             "市人大常委会,市,\n"
             "东城区人大常委会,区,市人大常委会\n"
             "东城第一街道人大工委,镇(街道),东城区人大常委会\n"
             "东城代表联络站 01,联络站,东城第一街道人大工委\n"
             "东城代表联络站 02,联络站,东城区人大常委会\n"
             "西城区人大常委会,区,市人大常委会\n"
             "西城代表联络站 01,联络站,西城区人大常委会\n"
             "市教育局,部门,市人大常委会\n")


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def upload(hub, path: str, data: bytes, filename: str = "名单.csv", headers: dict | None = None):
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename, content_type="application/octet-stream")
    resp = await hub.client.post(path, data=form, headers=headers or hub.admin_headers())
    return resp.status, await resp.json()


async def get(hub, path: str, headers: dict | None = None):
    resp = await hub.client.get(path, headers=headers or hub.admin_headers())
    return resp.status, await resp.json()


async def sites_by_name(hub) -> dict[str, dict]:
    status, sites = await get(hub, "/api/sites")
    assert status == 200
    return {s["name"]: s for s in sites}


async def import_city(hub) -> dict[str, dict]:
    status, body = await upload(hub, "/api/sites/import", SITES_CSV.encode("gbk"))
    assert status == 201, body
    return await sites_by_name(hub)


PEOPLE_CSV = ("姓名,类别,所属站点,层级,电话,委员会,编号\n"
              "张伟,代表,东城代表联络站 01,市,138 0013 8001,教科文卫委员会；财经委员会,D001\n"
              "王芳,代表,东城代表联络站 01,区,13800138002,,D002\n"
              "李娜,委员,市人大常委会,市,13800138003,教科文卫委员会,\n"
              "刘洋,部门负责人,市教育局,,13800138004,,\n"
              "陈静,代表,西城代表联络站 01,市,13800138005,财经委员会,D005\n")


async def import_people(hub) -> dict[str, dict]:
    status, body = await upload(hub, "/api/people/import", PEOPLE_CSV.encode("utf-8-sig"))
    assert status == 201, body
    status, found = await get(hub, "/api/people?limit=500")
    return {p["name"]: p for p in found["people"]}


async def test_sites_import_from_a_gbk_csv_and_an_xlsx(hub):
    status, body = await upload(hub, "/api/sites/import", SITES_CSV.encode("gbk"))
    assert status == 201, body
    assert [(c["line"], c["name"], c["kind"]) for c in body["created"]][:3] == [
        (2, "市人大常委会", "city"), (3, "东城区人大常委会", "district"), (4, "东城第一街道人大工委", "township")]
    sites = await sites_by_name(hub)
    assert sites["东城代表联络站 01"]["parent_id"] == sites["东城第一街道人大工委"]["id"]
    assert sites["市教育局"]["kind"] == "department" and sites["市教育局"]["parent_id"] == sites["市人大常委会"]["id"]

    # An XLSX made here, parents by name and by id, in English and Chinese kinds.
    east = sites["东城区人大常委会"]["id"]
    data = xlsx([["名称", "类型", "上级"], ["东城第二街道人大工委", "township", east],
                 ["东城代表联络站 03", "联络站", "东城第二街道人大工委"],
                 ["东城代表联络站 01", "联络站", "东城第一街道人大工委"]])
    status, body = await upload(hub, "/api/sites/import", data, filename="sites.xlsx")
    assert status == 201, body
    assert [c["name"] for c in body["created"]] == ["东城第二街道人大工委", "东城代表联络站 03"]
    assert body["duplicates"] == [{"line": 4, "reason": "site", "existing_id": sites["东城代表联络站 01"]["id"]}]
    sites = await sites_by_name(hub)
    assert sites["东城代表联络站 03"]["parent_id"] == sites["东城第二街道人大工委"]["id"]

    # The same file again adds nothing and refuses nothing.
    status, body = await upload(hub, "/api/sites/import", SITES_CSV.encode("gbk"))
    assert status == 201 and body["created"] == [] and len(body["duplicates"]) == 8, body
    assert len(await sites_by_name(hub)) == 10


async def test_a_bad_site_row_refuses_the_whole_file(hub):
    csv = "名称,类型,上级\n市人大,市,\n某区,区,市人大\n某镇,镇,市人大\n某站,星球,某区\n"
    status, body = await upload(hub, "/api/sites/import", csv.encode())
    assert status == 400 and body["error"]["code"] == "invalid", body
    assert [r["line"] for r in body["rows"]] == [4, 5]
    assert "nothing was imported" in body["error"]["message"]
    assert await sites_by_name(hub) == {}


async def test_people_with_two_bad_rows_import_nothing(hub):
    await import_city(hub)
    csv = PEOPLE_CSV + "赵磊,代表,没有这个站,市,13800138006,,\n孙丽,国王,东城代表联络站 02,,13800138007,,\n"
    status, body = await upload(hub, "/api/people/import", csv.encode("gb18030"))
    assert status == 400 and body["error"]["code"] == "invalid", body
    assert [r["line"] for r in body["rows"]] == [7, 8]
    assert "没有这个站" in body["rows"][0]["errors"][0] and "国王" in body["rows"][1]["errors"][0]
    status, found = await get(hub, "/api/people")
    assert status == 200 and found["total"] == 0 and found["people"] == []
    status, groups = await get(hub, "/api/groups")
    assert groups == []


async def test_dry_run_writes_nothing_then_the_import_and_its_duplicates(hub):
    sites = await import_city(hub)
    status, body = await upload(hub, "/api/people/import?dry_run=1", PEOPLE_CSV.encode())
    assert status == 200 and body["dry_run"] is True, body
    assert [c["line"] for c in body["created"]] == [2, 3, 4, 5, 6] and all(c["id"] is None for c in body["created"])
    assert sorted(g["name"] for g in body["groups_created"]) == ["教科文卫委员会", "财经委员会"]
    assert (await get(hub, "/api/people"))[1]["total"] == 0 and (await get(hub, "/api/groups"))[1] == []

    people = await import_people(hub)
    zhang = people["张伟"]
    assert zhang["phone"] == "13800138001" and zhang["code"] == "D001" and zhang["level"] == "city"
    assert zhang["site"]["id"] == sites["东城代表联络站 01"]["id"] and zhang["kind"] == "deputy"
    assert sorted(g["name"] for g in zhang["groups"]) == ["教科文卫委员会", "财经委员会"]
    assert people["刘洋"]["kind"] == "department_head" and people["李娜"]["kind"] == "member"

    # Again, with one new row and one repeated inside the file: duplicates are skipped and reported.
    again = PEOPLE_CSV + "周杰,代表,东城代表联络站 02,,13800138008,,\n周杰,代表,,,13800138008,,\n"
    status, body = await upload(hub, "/api/people/import", again.encode())
    assert status == 201, body
    assert [c["name"] for c in body["created"]] == ["周杰"]
    assert body["duplicates"] == [
        {"line": 2, "reason": "code", "existing_id": zhang["id"]},
        {"line": 3, "reason": "code", "existing_id": people["王芳"]["id"]},
        {"line": 4, "reason": "name_phone", "existing_id": people["李娜"]["id"]},
        {"line": 5, "reason": "name_phone", "existing_id": people["刘洋"]["id"]},
        {"line": 6, "reason": "code", "existing_id": people["陈静"]["id"]},
        {"line": 8, "reason": "name_phone", "duplicate_of_line": 7},
    ]
    assert (await get(hub, "/api/people"))[1]["total"] == 6


async def test_files_that_are_not_spreadsheets_are_refused(hub):
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"
    status, body = await upload(hub, "/api/people/import", pdf, filename="名单.xlsx")
    assert status == 400 and body["error"]["code"] == "invalid" and "PDF" in body["error"]["message"], body
    status, body = await upload(hub, "/api/sites/import", b"PK\x03\x04garbage", filename="sites.xlsx")
    assert status == 400 and "ZIP" in body["error"]["message"], body
    status, body = await upload(hub, "/api/people/import", b"x" * (5 * 1024 * 1024 + 1))
    assert status == 413 and body["error"]["code"] == "too_large", body
    resp = await hub.client.post("/api/people/import", json={"file": "x"}, headers=hub.admin_headers())
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid"
    status, body = await upload(hub, "/api/people/import?dry_run=maybe", PEOPLE_CSV.encode())
    assert status == 400, body


async def test_search_by_name_phone_code_site_group_and_kind(hub):
    sites = await import_city(hub)
    await import_people(hub)

    async def names(query: str) -> list[str]:
        status, body = await get(hub, f"/api/people?{query}")
        assert status == 200, body
        return [p["name"] for p in body["people"]]

    assert await names("q=张") == ["张伟"]
    assert await names("q=0013-8002") == ["王芳"]  # phone as written with a dash, found by its digits
    assert await names("q=D005") == ["陈静"]
    assert sorted(await names("q=D00")) == sorted(["张伟", "王芳", "陈静"])  # codes, not the phones' 00s
    assert sorted(await names(f"site_id={sites['东城区人大常委会']['id']}")) == ["张伟", "王芳"]  # the district's subtree
    (committee,) = [g for g in (await get(hub, "/api/groups"))[1] if g["name"] == "财经委员会"]
    assert committee["members"] == 2
    assert sorted(await names(f"group_id={committee['id']}")) == ["张伟", "陈静"]
    assert await names("kind=department_head") == ["刘洋"]
    status, body = await get(hub, "/api/people?limit=2&offset=4")
    assert body["total"] == 5 and len(body["people"]) == 1
    assert (await get(hub, "/api/people?q=%25"))[1]["total"] == 0  # a % is a character, not a wildcard
    for bad in ("limit=0", "limit=501", "offset=-1", "kind=king", "limit=²"):
        status, body = await get(hub, f"/api/people?{bad}")
        assert status == 400 and body["error"]["code"] == "invalid", (bad, body)
    status, _ = await get(hub, "/api/people?site_id=nope")
    assert status == 404


async def test_people_and_groups_by_hand(hub):
    sites = await import_city(hub)
    station = sites["西城代表联络站 01"]["id"]
    h = hub.admin_headers()
    resp = await hub.client.post("/api/people", json={"name": " 吴刚 ", "site_id": station, "phone": "(010) 6512-3456",
                                                      "code": "X1", "level": "township"}, headers=h)
    person = await resp.json()
    assert resp.status == 201 and person["name"] == "吴刚" and person["phone"] == "01065123456", person
    assert person["kind"] == "deputy" and person["site"]["id"] == station
    resp = await hub.client.post("/api/people", json={"name": "吴刚", "phone": "010 65123456"}, headers=h)
    assert resp.status == 409 and person["id"] in (await resp.json())["error"]["message"]
    resp = await hub.client.post("/api/people", json={"name": "别人", "code": "X1"}, headers=h)
    assert resp.status == 409
    for body in ({"name": ""}, {"name": "x", "phone": "call me"}, {"name": "x", "kind": "king"},
                 {"name": "x\ny"}, {"name": "x", "extra": 1}, {"name": "x", "level": 3}):
        resp = await hub.client.post("/api/people", json=body, headers=h)
        assert resp.status == 400, body
    resp = await hub.client.post("/api/people", json={"name": "x", "site_id": "nope"}, headers=h)
    assert resp.status == 404

    resp = await hub.client.post("/api/groups", json={"name": "监察和司法委员会", "members": [person["id"]]}, headers=h)
    group = await resp.json()
    assert resp.status == 201 and group["kind"] == "committee" and group["members"] == 1, group
    resp = await hub.client.post("/api/groups", json={"name": "监察和司法委员会"}, headers=h)
    assert resp.status == 409
    resp = await hub.client.patch(f"/api/people/{person['id']}", json={"note": "第一行\n第二行", "phone": None,
                                                                       "group_ids": []}, headers=h)
    patched = await resp.json()
    assert resp.status == 200 and patched["phone"] is None and patched["groups"] == [], patched
    assert patched["note"] == "第一行\n第二行" and patched["code"] == "X1"
    resp = await hub.client.patch(f"/api/people/{person['id']}", json={"name": None}, headers=h)
    assert resp.status == 400
    resp = await hub.client.delete(f"/api/people/{person['id']}", headers=h)
    assert resp.status == 200
    assert (await get(hub, f"/api/people/{person['id']}"))[0] == 404
    # Participants' tokens are not the office's.
    mid = await hub.meeting()
    member = await hub.participant(mid, "委员", "member")
    status, body = await get(hub, "/api/people", headers={"Authorization": f"Bearer {member['token']}"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert (await hub.client.get("/api/groups")).status == 401


async def test_bulk_add_a_committee_and_a_districts_stations(hub):
    sites = await import_city(hub)
    people = await import_people(hub)
    groups = {g["name"]: g for g in (await get(hub, "/api/groups"))[1]}
    mid = await hub.meeting("教科文卫专题询问")
    body = {"group_ids": [groups["教科文卫委员会"]["id"]], "site_ids": [sites["东城区人大常委会"]["id"]]}
    added = await hub.post(f"/api/meetings/{mid}/participants/bulk", body)
    created = {p["name"]: p for p in added["created"]}
    # The committee: 张伟 (a deputy) and 李娜 (a member), each in their kind's role; the
    # district's stations: 01 has 张伟 (already in) and 王芳, 02 has no one: its own seat.
    assert sorted(created) == sorted(["张伟", "李娜", "王芳", "东城代表联络站 02"])
    assert created["李娜"]["role"] == "member" and created["张伟"]["role"] == "deputy"
    assert created["张伟"]["person_id"] == people["张伟"]["id"]
    seat = created["东城代表联络站 02"]
    assert seat["person_id"] is None and seat["site_id"] == sites["东城代表联络站 02"]["id"] and seat["role"] == "deputy"
    assert added["already"] == []
    # Each link works: it opens the meeting, which lists everyone at their site.
    resp = await hub.client.get(f"/api/meetings/{mid}", headers={"Authorization": f"Bearer {created['王芳']['token']}"})
    meeting = await resp.json()
    assert resp.status == 200 and created["王芳"]["join_url"].endswith(created["王芳"]["token"])
    by_name = {p["name"]: p for p in meeting["participants"]}
    assert len(by_name) == 4 and by_name["王芳"]["site"]["name"] == "东城代表联络站 01"

    # Asking again adds no one twice; an explicit role applies to whoever is new.
    again = await hub.post(f"/api/meetings/{mid}/participants/bulk",
                           {**body, "people": [people["刘洋"]["id"]], "role": "respondent"})
    assert [(p["name"], p["role"]) for p in again["created"]] == [("刘洋", "respondent")]
    assert sorted(a.get("person_id") or a["site_id"] for a in again["already"]) == sorted(
        [people["张伟"]["id"], people["李娜"]["id"], people["王芳"]["id"], sites["东城代表联络站 02"]["id"]])

    # Refusals.
    for bad, status in (({}, 400), ({"people": ["nope"]}, 404), ({"site_ids": [sites["市教育局"]["id"]]}, 400),
                        ({"people": [people["刘洋"]["id"]], "role": "admin"}, 400)):
        resp = await hub.client.post(f"/api/meetings/{mid}/participants/bulk", json=bad, headers=hub.admin_headers())
        assert resp.status == status, (bad, await resp.json())
    resp = await hub.client.post("/api/meetings/nope/participants/bulk", json=body, headers=hub.admin_headers())
    assert resp.status == 404


async def test_a_persons_history_across_meetings(hub):
    await import_city(hub)
    people = await import_people(hub)
    zhang = people["张伟"]["id"]
    first = await hub.meeting("第一次会议")
    second = await hub.meeting("第二次会议")
    await hub.post(f"/api/meetings/{first}/participants/bulk", {"people": [zhang]})
    await hub.post(f"/api/meetings/{second}/participants/bulk", {"people": [zhang], "role": "member"})
    status, person = await get(hub, f"/api/people/{zhang}")
    assert status == 200, person
    history = {m["meeting_id"]: m for m in person["meetings"]}
    assert set(history) == {first, second}
    assert history[first]["role"] == "deputy" and history[second]["role"] == "member"
    assert history[second]["title"] == "第二次会议" and history[first]["online"] is False
    # Their history is kept: they cannot be deleted while a meeting names them.
    resp = await hub.client.delete(f"/api/people/{zhang}", headers=hub.admin_headers())
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "conflict"


async def test_an_operator_works_within_its_district(hub):
    sites = await import_city(hub)
    people = await import_people(hub)
    await make_account(hub, "east", "correct horse battery", sites["东城区人大常委会"]["id"])
    op = {"Authorization": f"Bearer {await session_token(hub, 'east', 'correct horse battery')}"}
    status, found = await get(hub, "/api/people", headers=op)
    assert status == 200 and sorted(p["name"] for p in found["people"]) == ["张伟", "王芳"], found
    assert (await get(hub, f"/api/people/{people['陈静']['id']}", headers=op))[0] == 403
    status, _ = await get(hub, f"/api/people?site_id={sites['西城区人大常委会']['id']}", headers=op)
    assert status == 403
    # Imports go below its own site only: a row outside refuses the file.
    csv = "姓名,所属站点\n新代表,东城代表联络站 02\n外区代表,西城代表联络站 01\n"
    status, body = await upload(hub, "/api/people/import", csv.encode(), headers=op)
    assert status == 400 and [r["line"] for r in body["rows"]] == [3], body
    status, body = await upload(hub, "/api/people/import", csv.encode()[:csv.encode().rindex("外".encode())], headers=op)
    assert status == 201 and [c["name"] for c in body["created"]] == ["新代表"], body
    # Its own meeting: a city-wide committee brings only its district's members.
    resp = await hub.client.post("/api/meetings", json={"title": "东城区座谈"}, headers=op)
    mid = (await resp.json())["id"]
    fin = [g for g in (await get(hub, "/api/groups", headers=op))[1] if g["name"] == "财经委员会"][0]
    assert fin["members"] == 1  # 张伟; 陈静 is at a station of another district
    resp = await hub.client.post(f"/api/meetings/{mid}/participants/bulk", json={"group_ids": [fin["id"]]}, headers=op)
    added = await resp.json()
    assert resp.status == 201 and [p["name"] for p in added["created"]] == ["张伟"] and added["outside_reach"] == 1
    resp = await hub.client.post(f"/api/meetings/{mid}/participants/bulk", json={"people": [people["陈静"]["id"]]},
                                 headers=op)
    assert resp.status == 403
    other = await hub.meeting("市里的会")
    resp = await hub.client.post(f"/api/meetings/{other}/participants/bulk", json={"people": [people["张伟"]["id"]]},
                                 headers=op)
    assert resp.status == 403
