"""A hub upgraded in place keeps its inquiry: events logged under the old
dotted names (`inquiry.granted`) are renamed to the `feature:name`
convention by migration 0005, and the fold reads them back."""
from __future__ import annotations

from sqlalchemy import select, text

from sessions import events
from sessions.db import Database
from sessions.inquiry import fold as ev
from sessions.inquiry.fold import fold
from sessions.inquiry.state import Stage
from sessions.models import MeetingEvent, new_id, utcnow


async def test_old_dotted_inquiry_events_are_renamed_and_still_fold(db_url):
    db = Database(db_url)
    try:
        await db.migrate("0004_documents")
        async with db.transaction() as tx:
            # The meetings table as 0004 left it: later migrations add columns
            # the model (and so directory.create_meeting) already has.
            mid = new_id()
            await tx.execute(text(
                "INSERT INTO meetings (id, title, status, created_at, last_seq) VALUES (:id, :title, 'scheduled', :at, 0)"
            ), {"id": mid, "title": "升级前的询问", "at": utcnow()})
            topic = {"topic_id": "t1", "title": "城市交通", "respondents": ["r1"], "report_s": 300,
                     "question_s": 60, "answer_s": 120, "follow_ups": 1, "allow_deputies": True, "at": 1.0}
            await events.append(tx, mid, "inquiry.topic_opened", topic)
            await events.append(tx, mid, "inquiry.hand_raised", {"participant": "p1", "at": 2.0})
            await events.append(tx, mid, "inquiry.granted", {"participant": "p1", "started_at": 3.0, "duration_s": 60})
            await events.append(tx, mid, "vote:opened", {"vote_id": "v1"})

        await db.migrate()

        async with db.read() as session:
            types = (await session.scalars(
                select(MeetingEvent.type).where(MeetingEvent.meeting_id == mid).order_by(MeetingEvent.seq)
            )).all()
            logged = await events.events_of(session, mid, types=ev.TYPES)
        assert types == ["inquiry:topic_opened", "inquiry:hand_raised", "inquiry:granted", "vote:opened"]
        state = fold(logged)
        assert state.topic is not None and state.topic.title == "城市交通"
        assert state.stage is Stage.QUESTION and state.speaker == "p1" and state.queue == ()
        assert state.seq == 3
    finally:
        await db.dispose()
