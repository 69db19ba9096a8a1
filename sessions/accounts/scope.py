"""How far a staff token reaches.

The admin token and an admin's session: everything. An operator's session:
its site and every site below it, and the meetings it created
(`meetings.created_by` is its token's subject). The edges (web/auth.py)
answer 403 for anything beyond.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sessions.errors import Forbidden, NotFound
from sessions.identity import Identity
from sessions.models import Meeting, Site


async def subtree(session: AsyncSession, root_id: str) -> set[str]:
    """The site and every site below it (empty if it does not exist). A
    city's sites are hundreds at most: one read, walked here, works the same
    on every database."""
    children: dict[str | None, list[str]] = defaultdict(list)
    ids: set[str] = set()
    for site_id, parent_id in (await session.execute(select(Site.id, Site.parent_id))).all():
        children[parent_id].append(site_id)
        ids.add(site_id)
    if root_id not in ids:
        return set()
    found, todo = {root_id}, [root_id]
    while todo:
        for child in children[todo.pop()]:
            if child not in found:  # a cycle cannot be made through the API; never loop on one
                found.add(child)
                todo.append(child)
    return found


async def sites_in_scope(session: AsyncSession, identity: Identity) -> set[str] | None:
    """The site ids the identity reaches; None: all of them."""
    if identity.operator_site is None:
        return None
    return await subtree(session, identity.operator_site)


async def check_site(session: AsyncSession, identity: Identity, site_id: str) -> None:
    scope = await sites_in_scope(session, identity)
    if scope is not None and site_id not in scope:
        raise Forbidden("this site is outside your district (your site and the sites below it)")


async def check_meeting(session: AsyncSession, identity: Identity, meeting_id: str) -> None:
    if identity.operator_site is None:
        return
    created_by = await session.scalar(select(Meeting.created_by).where(Meeting.id == meeting_id))
    if created_by is None and await session.get(Meeting, meeting_id) is None:
        raise NotFound("no such meeting")
    if created_by != identity.sub:
        raise Forbidden("an operator reaches only the meetings it created")
