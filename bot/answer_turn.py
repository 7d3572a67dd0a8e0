"""The common quiz turn, in two short steps: an answer to a question that is not the last.

Nine messages in ten during the week are such answers, so they skip the general path's
locked transaction (inbox.process_message → routing.route): the attempt and its two items are
read without any lock and the answer is graded and worded in Python; then one short write
transaction claims the message's dedupe key and moves the attempt on with an UPDATE that only
matches while the attempt is still where it was read (active, same question). If anything moved
in between — another copy of the message, a quit, an expiry, a second device — nothing is
written here and the message takes the general path, which sees the new state. So does every
other case: keywords, the last question, unrecognised text, double taps, expired attempts and
followers over the rate limit. The reply is built by the same functions (quiz_flow) either way.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from questions.grading import parse_answer

from .driver_sql import DriverConnection, Statement, driver_connection
from .followers import last_message_stale
from .masking import short_openid
from .outreach import match_action, menu_key
from .quiz_flow import feedback_and_next, grade_answer, idle_too_long, question_of
from .ratelimit import COUNT_SQL, count_params, counts_toward_limit, decide
from .replies import Outgoing, render_reply

logger = logging.getLogger(__name__)

# One round trip: the stored reply for this message, if any, beside the current and next items
# of the follower's active attempt.
_READ = Statement("""
    SELECT m.reply, s.id, s.current_index, s.total_questions, s.last_activity_at, s.last_answer_create_time,
           s.last_message_at, s.position, s.snapshot, s.option_order
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN inbound_messages m ON m.dedupe_key = :key
    LEFT JOIN (SELECT a.id, a.current_index, a.total_questions, a.last_activity_at, a.last_answer_create_time,
                      f.last_message_at, i.position, i.snapshot, i.option_order
               FROM attempts a
               JOIN followers f ON f.openid = a.openid
               JOIN attempt_items i ON i.attempt_id = a.id
               WHERE a.openid = :openid AND a.status = 'active'
                 AND i.position BETWEEN a.current_index AND a.current_index + 1) AS s ON 1 = 1
    ORDER BY s.position
""")
_COUNT = Statement(COUNT_SQL)
# Moves the attempt on only if it is still active and on the question that was graded.
_ADVANCE = Statement("""
    UPDATE attempts SET score = score + :points, correct_count = correct_count + :right,
           current_index = current_index + 1, last_activity_at = :now, last_answer_create_time = :create_time
    WHERE id = :id AND status = 'active' AND current_index = :index
""")
_RECORD = Statement("""
    UPDATE attempt_items SET response = :response, original_choice = :original, correct = :correct,
           points_awarded = :points, answered_at = :now
    WHERE attempt_id = :id AND position = :index
""")
_TOUCH = Statement("UPDATE followers SET last_message_at = :now WHERE openid = :openid")
_CLAIM = Statement("""
    INSERT INTO inbound_messages (dedupe_key, openid, msg_type, create_time, received_at, reply)
    VALUES (:key, :openid, 'text', :create_time, :now, :reply)
""")


@dataclass(frozen=True)
class _Item:
    """One row of _READ: the attempt's state and one of its items."""

    attempt_id: int
    current_index: int
    total_questions: int
    last_activity_at: dt.datetime
    last_answer_create_time: int
    last_message_at: dt.datetime | None
    position: int
    snapshot: dict
    option_order: list[int]


class _Moved(Exception):
    """The attempt changed after it was read, or the follower is over the rate limit: go the general way."""


@dataclass(frozen=True)
class _Planned:
    """What one answer will change, and the reply it gets."""

    attempt_id: int
    index: int
    graded: object  # quiz_flow.Graded
    touch_follower: bool
    reply: str


def _items(conn: DriverConnection, rows: list[tuple]) -> list[_Item]:
    return [_Item(attempt_id=r[1], current_index=r[2], total_questions=r[3], last_activity_at=conn.read_time(r[4]),
                  last_answer_create_time=r[5], last_message_at=conn.read_time(r[6]), position=r[7],
                  snapshot=conn.read_json(r[8]), option_order=conn.read_json(r[9]))
            for r in rows if r[1] is not None]


def _plan(runtime, items: list[_Item], inbound, now: dt.datetime) -> _Planned | None:
    """Grade the answer against the items read; None unless this is a plain answer to a middle question."""
    if len(items) != 2:  # no active attempt, or the current question is the last
        return None
    config = runtime.config
    current, following = items
    if (current.position != current.current_index or idle_too_long(config, current.last_activity_at, now)
            or inbound.create_time <= current.last_answer_create_time):
        return None
    question = question_of(current.snapshot)
    parsed = parse_answer(question, inbound.content)
    if parsed is None:
        return None
    graded = grade_answer(config, question, parsed, points=current.snapshot["points"],
                          option_order=current.option_order)
    text_out = feedback_and_next(graded, following.snapshot, current.current_index + 1, current.total_questions)
    reply = render_reply(Outgoing(text=text_out), to_user=inbound.openid, from_user=inbound.account,
                         create_time=inbound.create_time)
    return _Planned(attempt_id=current.attempt_id, index=current.current_index, graded=graded,
                    touch_follower=last_message_stale(current.last_message_at, now), reply=reply)


def try_answer(runtime, inbound, now: dt.datetime) -> str | None:
    """Handle a plain answer to a middle question and return its reply; None to use the general path.

    Raises IntegrityError when another copy of the message committed first (the caller answers
    with the stored reply), and the database's errors like the general path does.
    """
    config = runtime.config
    text = inbound.content
    if inbound.msg_type != "text" or not text or match_action(config, text) or menu_key(config, text):
        return None  # an event or a keyword: the general path, which also looks for a stored reply
    with driver_connection(runtime.db) as conn:
        rows = conn.rows(_READ, {"key": inbound.dedupe_key, "openid": inbound.openid})
        stored = rows[0][0]
        if stored is not None:
            logger.info("duplicate %s from %s: stored reply", inbound.dedupe_key, short_openid(inbound.openid))
            return stored
        planned = _plan(runtime, _items(conn, rows), inbound, now)
        if planned is None:
            return None
        graded = planned.graded
        at = conn.stored_time(now)
        try:
            with conn.transaction():
                limit = config.ratelimit
                if limit.messages and counts_toward_limit(inbound.msg_type, inbound.event):
                    params = count_params(limit, inbound.openid, now)
                    params.update(now=at, expires=conn.stored_time(params["expires"]))
                    count = int(conn.rows(_COUNT, params)[0][0])
                    if not decide(limit, inbound.openid, count).allowed:
                        raise _Moved  # the general path counts it again (this count rolls back) and answers it
                moved = conn.execute(_ADVANCE, {"id": planned.attempt_id, "index": planned.index,
                                                "points": graded.points, "right": int(graded.correct), "now": at,
                                                "create_time": inbound.create_time})
                if moved != 1:
                    raise _Moved
                conn.execute(_RECORD, {"id": planned.attempt_id, "index": planned.index,
                                       "response": graded.response, "original": graded.original_choice,
                                       "correct": graded.correct, "points": graded.points, "now": at})
                if planned.touch_follower:
                    conn.execute(_TOUCH, {"openid": inbound.openid, "now": at})
                conn.execute(_CLAIM, {"key": inbound.dedupe_key, "openid": inbound.openid,
                                      "create_time": inbound.create_time, "now": at, "reply": planned.reply})
        except _Moved:
            return None
    return planned.reply
