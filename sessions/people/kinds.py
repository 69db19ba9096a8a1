"""The directory's vocabularies, in English and in the Chinese an office's
spreadsheet uses: kinds of site, kinds of person, congress levels, group
kinds, and which meeting role a kind of person gets by default."""
from __future__ import annotations

from enum import StrEnum

from sessions.roles import Role, SiteKind


class PersonKind(StrEnum):
    DEPUTY = "deputy"                    # 人大代表
    MEMBER = "member"                    # 常委会组成人员 / 委员
    DEPARTMENT_HEAD = "department_head"  # 部门负责人
    STAFF = "staff"                      # 工作人员
    OTHER = "other"


class Level(StrEnum):
    """The level of congress a deputy was elected to (五级人大代表)."""

    NATIONAL = "national"      # 全国
    PROVINCIAL = "provincial"  # 省
    CITY = "city"              # 市
    DISTRICT = "district"      # 区 / 县
    TOWNSHIP = "township"      # 乡 / 镇 / 街道


class GroupKind(StrEnum):
    COMMITTEE = "committee"    # 专门委员会、工作委员会
    DELEGATION = "delegation"  # 代表团、代表小组
    OTHER = "other"


# The meeting role a person gets when a bulk add names none.
DEFAULT_ROLE: dict[PersonKind, Role] = {
    PersonKind.DEPUTY: Role.DEPUTY,
    PersonKind.MEMBER: Role.MEMBER,
    PersonKind.DEPARTMENT_HEAD: Role.RESPONDENT,
    PersonKind.STAFF: Role.OBSERVER,
    PersonKind.OTHER: Role.OBSERVER,
}


def _table(pairs: dict[str, StrEnum]) -> dict[str, StrEnum]:
    return {key.lower(): value for key, value in pairs.items()}


SITE_KIND_WORDS = _table({
    **{k.value: k for k in SiteKind},
    "市": SiteKind.CITY, "市级": SiteKind.CITY, "市人大": SiteKind.CITY,
    "区": SiteKind.DISTRICT, "县": SiteKind.DISTRICT, "区县": SiteKind.DISTRICT, "区级": SiteKind.DISTRICT,
    "镇": SiteKind.TOWNSHIP, "乡": SiteKind.TOWNSHIP, "街道": SiteKind.TOWNSHIP, "乡镇": SiteKind.TOWNSHIP,
    "镇(街道)": SiteKind.TOWNSHIP, "镇（街道）": SiteKind.TOWNSHIP, "镇街": SiteKind.TOWNSHIP,
    "乡镇(街道)": SiteKind.TOWNSHIP, "乡镇（街道）": SiteKind.TOWNSHIP,
    "联络站": SiteKind.STATION, "代表联络站": SiteKind.STATION, "站": SiteKind.STATION,
    "联络点": SiteKind.STATION, "代表之家": SiteKind.STATION,
    "部门": SiteKind.DEPARTMENT, "政府部门": SiteKind.DEPARTMENT, "单位": SiteKind.DEPARTMENT,
})

PERSON_KIND_WORDS = _table({
    **{k.value: k for k in PersonKind},
    "代表": PersonKind.DEPUTY, "人大代表": PersonKind.DEPUTY,
    "委员": PersonKind.MEMBER, "常委会委员": PersonKind.MEMBER, "组成人员": PersonKind.MEMBER,
    "常委会组成人员": PersonKind.MEMBER,
    "部门负责人": PersonKind.DEPARTMENT_HEAD, "负责人": PersonKind.DEPARTMENT_HEAD,
    "工作人员": PersonKind.STAFF, "其他": PersonKind.OTHER, "其它": PersonKind.OTHER,
})

LEVEL_WORDS = _table({
    **{k.value: k for k in Level},
    "全国": Level.NATIONAL, "国家": Level.NATIONAL, "全国人大": Level.NATIONAL,
    "省": Level.PROVINCIAL, "省级": Level.PROVINCIAL, "省人大": Level.PROVINCIAL,
    "市": Level.CITY, "市级": Level.CITY, "市人大": Level.CITY,
    "区": Level.DISTRICT, "县": Level.DISTRICT, "区县": Level.DISTRICT, "区级": Level.DISTRICT,
    "县级": Level.DISTRICT, "区人大": Level.DISTRICT,
    "镇": Level.TOWNSHIP, "乡": Level.TOWNSHIP, "乡镇": Level.TOWNSHIP, "街道": Level.TOWNSHIP,
    "镇级": Level.TOWNSHIP, "乡级": Level.TOWNSHIP, "镇人大": Level.TOWNSHIP,
})


def word(table: dict[str, StrEnum], value: str) -> StrEnum | None:
    """The vocabulary's value a cell names (case, spaces and a trailing 代表
    aside: 市级代表 is 市), or None."""
    key = "".join(value.split()).lower()
    return table.get(key) or (table.get(key.removesuffix("代表")) if key.endswith("代表") else None)
