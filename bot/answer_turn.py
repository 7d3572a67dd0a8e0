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
import functools
import logging
from dataclasses import dataclass

from questions.grading import parse_answer
from questions.render import join_within_limit

from . import contact
from .driver_sql import DriverConnection, Statement, driver_connection
from .followers import last_message_stale
from .masking import short_openid
from .quiz_flow import (
    Graded,
    attempts_left_text,
    feedback_and_next,
    grade_answer,
    idle_too_long,
    question_of,
    rank_line,
    result_text,
)
from .ratelimit import COUNT_SQL, count_params, counts_toward_limit, decide
from .replies import Outgoing, render_reply
from .standings import ENDED, players_seen_by

logger = logging.getLogger(__name__)

# One round trip: the stored reply for this message, if any, beside the current and next items
# of the follower's active attempt.
_READ = Statement("""
    SELECT m.reply, s.id, s.current_index, s.total_questions, s.last_activity_at, s.last_answer_create_time,
           s.last_message_at, s.position, s.snapshot, s.option_order, s.score, s.correct_count, s.max_score,
           s.started_at, s.name, s.phone
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN inbound_messages m ON m.dedupe_key = :key
    LEFT JOIN (SELECT a.id, a.current_index, a.total_questions, a.last_activity_at, a.last_answer_create_time,
                      f.last_message_at, i.position, i.snapshot, i.option_order, a.score, a.correct_count,
                      a.max_score, a.started_at, f.name, f.phone
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
TOUCH = Statement("UPDATE followers SET last_message_at = :now WHERE openid = :openid")
CLAIM = Statement("""
    INSERT INTO inbound_messages (dedupe_key, openid, msg_type, create_time, received_at, reply)
    VALUES (:key, :openid, 'text', :create_time, :now, :reply)
""")


# The last answer. The standing order (score, then less time, then earlier finish) is
# standings.STANDING_ORDER's; the counts are standings.rank_of's and player_count's.
_FINISH = Statement("""
    UPDATE attempts SET score = score + :points, correct_count = correct_count + :right,
           current_index = current_index + 1, last_activity_at = :now, last_answer_create_time = :create_time,
           status = 'finished', finished_at = :now, duration_seconds = :duration
    WHERE id = :id AND status = 'active' AND current_index = :index
""")
_BEST_OF = Statement(f"""
    SELECT id FROM attempts WHERE openid = :openid AND status IN ({", ".join(f"'{s}'" for s in ENDED)})
    ORDER BY score DESC, duration_seconds ASC, finished_at ASC, id ASC LIMIT 1
""")
_MARK_BEST = Statement("UPDATE attempts SET best = (id = :id) WHERE openid = :openid AND (best = :yes OR id = :id)")
_AHEAD_OF = """best = :yes AND (
    score > :score
    OR (score = :score AND duration_seconds < :duration)
    OR (score = :score AND duration_seconds = :duration AND finished_at < :now)
    OR (score = :score AND duration_seconds = :duration AND finished_at = :now AND id < :id))"""


@functools.lru_cache(maxsize=8)
def _rank_statement(testers: int) -> Statement:
    """Players ahead and players in all, without the `testers` test accounts (:tester_0, :tester_1, ...)."""
    ahead = f"(SELECT count(*) FROM attempts WHERE {_AHEAD_OF})"
    players = "(SELECT count(*) FROM attempts WHERE best = :yes)"
    if testers:
        listed = "openid IN (" + ", ".join(f":tester_{i}" for i in range(testers)) + ")"
        ahead += f" - (SELECT count(*) FROM attempts WHERE {listed} AND {_AHEAD_OF})"
        players += f" - (SELECT count(*) FROM attempts WHERE {listed} AND best = :yes)"
    return Statement(f"SELECT {ahead}, {players}")


_USED = Statement("""
    SELECT count(*), coalesce(sum(CASE WHEN local_day = :today THEN 1 ELSE 0 END), 0)
    FROM attempts WHERE openid = :openid
""")
_ASK_CONTACT = Statement("UPDATE followers SET state = :state WHERE openid = :openid")

# PostgreSQL: the same writes as data-modifying CTEs of one statement. Each step only acts if the
# attempt moved on (adv returned its id), so a stale read or a follower over the limit changes nothing.
_WRITES_AFTER_ADVANCE = """
    rec AS (UPDATE attempt_items SET response = :response, original_choice = :original, correct = :correct,
                   points_awarded = :points, answered_at = :now
            WHERE attempt_id = (SELECT id FROM adv) AND position = :index RETURNING 1),
    touch AS (UPDATE followers SET last_message_at = :now
              WHERE openid = :openid AND :touch AND EXISTS (SELECT 1 FROM adv) RETURNING 1),
    claim AS (INSERT INTO inbound_messages (dedupe_key, openid, msg_type, create_time, received_at, reply)
              SELECT :key, :openid, 'text', :create_time, :now, :reply FROM adv RETURNING 1)
"""
_ADVANCE_CTE = """
    adv AS (UPDATE attempts SET score = score + :points, correct_count = correct_count + :right,
                   current_index = current_index + 1, last_activity_at = :now, last_answer_create_time = :create_time
            WHERE id = :id AND status = 'active' AND current_index = :index {rated} RETURNING id),
"""
_WRITE = Statement("WITH " + _ADVANCE_CTE.format(rated="") + _WRITES_AFTER_ADVANCE
                   + "SELECT count(*) FROM adv")
_WRITE_RATED = Statement(
    "WITH rate AS (" + COUNT_SQL + "), " + _ADVANCE_CTE.format(rated="AND (SELECT n FROM rate) <= :limit")
    + _WRITES_AFTER_ADVANCE + "SELECT (SELECT n FROM rate), (SELECT count(*) FROM adv)")


@dataclass(slots=True)
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
    score: int
    correct_count: int
    max_score: int
    started_at: dt.datetime
    name: str | None
    phone: str | None


class FallBack(Exception):
    """The attempt changed after it was read, or the follower is over the rate limit: go the general way."""


@dataclass(frozen=True, slots=True)
class Counted:
    """The answer goes the general way, but its rate count is already committed (PostgreSQL): count it once."""

    count: int


@dataclass(frozen=True)
class _Planned:
    """What one answer will change, and the reply it gets (worded at write time for the last question)."""

    attempt_id: int
    index: int
    graded: Graded
    touch_follower: bool
    reply: str
    current: _Item  # the item answered, with the attempt as read
    last: bool  # the answer to the last question: the attempt ends


def _items(conn: DriverConnection, rows: list[tuple]) -> list[_Item]:
    return [_Item(attempt_id=r[1], current_index=r[2], total_questions=r[3], last_activity_at=conn.read_time(r[4]),
                  last_answer_create_time=r[5], last_message_at=conn.read_time(r[6]), position=r[7],
                  snapshot=conn.read_json(r[8]), option_order=conn.read_json(r[9]), score=r[10],
                  correct_count=r[11], max_score=r[12], started_at=conn.read_time(r[13]), name=r[14], phone=r[15])
            for r in rows if r[1] is not None]


def _plan(runtime, items: list[_Item], inbound, now: dt.datetime) -> _Planned | None:
    """Grade the answer against the items read; None unless it is a plain answer to the current question."""
    if not items:
        return None
    config = runtime.config
    current = items[0]
    last = len(items) == 1 and current.current_index == current.total_questions - 1
    if ((len(items) != 2 and not last) or current.position != current.current_index
            or idle_too_long(config, current.last_activity_at, now)
            or inbound.create_time <= current.last_answer_create_time):
        return None
    question = question_of(current.snapshot)
    parsed = parse_answer(question, inbound.content)
    if parsed is None:
        return None
    graded = grade_answer(config, question, parsed, points=current.snapshot["points"],
                          option_order=current.option_order)
    reply = ""
    if not last:
        text_out = feedback_and_next(graded, items[1].snapshot, current.current_index + 1, current.total_questions)
        reply = render_reply(Outgoing(text=text_out), to_user=inbound.openid, from_user=inbound.account,
                             create_time=inbound.create_time)
    return _Planned(attempt_id=current.attempt_id, index=current.current_index, graded=graded,
                    touch_follower=last_message_stale(current.last_message_at, now), reply=reply,
                    current=current, last=last)


def try_answer(runtime, inbound, now: dt.datetime) -> str | Counted | None:
    """Handle a text that is no keyword as an answer and return its reply; None (or Counted, when the
    message's rate count was committed on the way) to use the general path.

    Raises IntegrityError when another copy of the message committed first (the caller answers
    with the stored reply), and the database's errors like the general path does.
    """
    config = runtime.config
    with driver_connection(runtime.db) as conn:
        rows = conn.rows(_READ, {"key": inbound.dedupe_key, "openid": inbound.openid})
        stored = rows[0][0]
        if stored is not None:
            logger.info("duplicate %s from %s: stored reply", inbound.dedupe_key, short_openid(inbound.openid))
            return stored
        planned = _plan(runtime, _items(conn, rows), inbound, now)
        if planned is None:
            return None
        if planned.last:
            return finish(runtime, conn, inbound, planned, now)
        if conn.is_sqlite:
            return planned.reply if _write_steps(conn, config.ratelimit, inbound, planned, now) else None
        applied, count = _write_at_once(conn, config.ratelimit, inbound, planned, now)
    if applied:
        return planned.reply
    return None if count is None else Counted(count)


def _rate_params(conn: DriverConnection, limit, openid: str, now: dt.datetime) -> dict:
    params = count_params(limit, openid, now)
    return {**params, "now": conn.stored_time(now), "expires": conn.stored_time(params["expires"])}


def _write_params(conn: DriverConnection, inbound, planned: _Planned, now: dt.datetime) -> dict:
    graded = planned.graded
    return {"id": planned.attempt_id, "index": planned.index, "points": graded.points, "right": int(graded.correct),
            "response": graded.response, "original": graded.original_choice, "correct": graded.correct,
            "touch": planned.touch_follower, "key": inbound.dedupe_key, "openid": inbound.openid,
            "create_time": inbound.create_time, "now": conn.stored_time(now), "reply": planned.reply}


def count_message(conn: DriverConnection, limit, inbound, now: dt.datetime) -> None:
    """Count the message toward the follower's rate limit; FallBack if it is over (the count rolls back)."""
    if limit.messages and counts_toward_limit(inbound.msg_type, inbound.event):
        count = int(conn.rows(_COUNT, _rate_params(conn, limit, inbound.openid, now))[0][0])
        if not decide(limit, inbound.openid, count).allowed:
            raise FallBack  # the general path counts it again and answers it


def _write_steps(conn: DriverConnection, limit, inbound, planned: _Planned, now: dt.datetime) -> bool:
    """SQLite: the writes as a few statements in one queued transaction (in-process, so cheap)."""
    params = _write_params(conn, inbound, planned, now)
    try:
        with conn.transaction():
            count_message(conn, limit, inbound, now)
            if conn.execute(_ADVANCE, params) != 1:
                raise FallBack
            conn.execute(_RECORD, params)
            if planned.touch_follower:
                conn.execute(TOUCH, params)
            conn.execute(CLAIM, params)
    except FallBack:
        return False
    return True


def _write_at_once(conn: DriverConnection, limit, inbound, planned: _Planned,
                   now: dt.datetime) -> tuple[bool, int | None]:
    """PostgreSQL: the writes as one statement, so one round trip (a statement is its own transaction).

    Returns whether the answer was stored, and the message's rate count if it was counted. A
    message over the rate limit, or one whose attempt moved, changes nothing but that count,
    which the general path then uses instead of counting the message again.
    """
    params = _write_params(conn, inbound, planned, now)
    if limit.messages and counts_toward_limit(inbound.msg_type, inbound.event):
        params.update(_rate_params(conn, limit, inbound.openid, now), limit=limit.messages)
        count, applied = conn.rows(_WRITE_RATED, params)[0]
        decide(limit, inbound.openid, int(count))  # logs the first message over the limit
        return applied == 1, int(count)
    (applied,) = conn.rows(_WRITE, params)[0]
    return applied == 1, None


@dataclass(frozen=True)
class _Ended:
    """The attempt as the last answer ends it, as the result message shows it."""

    score: int
    max_score: int
    correct_count: int
    total_questions: int
    duration_seconds: int


def finish(runtime, conn: DriverConnection, inbound, planned: _Planned, now: dt.datetime) -> str | None:
    """The answer to the last question: end the attempt, mark the best, rank it and word the result.

    One transaction of short statements on either database. If the attempt moved, or the one
    just ended is not the player's best (their result names the best one instead), nothing is
    written and the general path answers.
    """
    config = runtime.config
    current, graded, openid = planned.current, planned.graded, inbound.openid
    ended = _Ended(score=current.score + graded.points, max_score=current.max_score,
                   correct_count=current.correct_count + int(graded.correct), total_questions=current.total_questions,
                   duration_seconds=max(int((now - current.started_at).total_seconds()), 0))
    params = _write_params(conn, inbound, planned, now)
    params.update(duration=ended.duration_seconds, score=ended.score, yes=True)
    local_today = now.replace(tzinfo=dt.timezone.utc).astimezone(config.activity.tz).date()
    try:
        with conn.transaction():
            count_message(conn, config.ratelimit, inbound, now)
            if conn.execute(_FINISH, params) != 1:
                raise FallBack
            conn.execute(_RECORD, params)
            if conn.rows(_BEST_OF, params)[0][0] != planned.attempt_id:
                raise FallBack
            conn.execute(_MARK_BEST, params)
            testers = config.quiz.testers
            ahead, players = conn.rows(_rank_statement(len(testers)),
                                       {**params, **{f"tester_{i}": t for i, t in enumerate(testers)}})[0]
            players = players_seen_by(openid, int(players), testers)
            total, today = (0, 0) if openid in config.quiz.testers else conn.rows(
                _USED, {"openid": openid, "today": conn.stored_date(local_today)})[0]
            text, ask_contact = result_text(
                config, ended, "答题结束！", standing_line=rank_line(int(ahead) + 1, players),
                attempts_left=attempts_left_text(config, openid, int(total), int(today), local_today),
                name=current.name, phone=current.phone)
            if ask_contact:
                conn.execute(_ASK_CONTACT, {"openid": openid, "state": contact.STATE})
            if planned.touch_follower:
                conn.execute(TOUCH, params)
            reply = render_reply(Outgoing(text=join_within_limit(graded.feedback, text)), to_user=openid,
                                 from_user=inbound.account, create_time=inbound.create_time)
            conn.execute(CLAIM, {**params, "reply": reply})
    except FallBack:
        return None
    logger.info("attempt %s finished: %d/%d", planned.attempt_id, ended.score, ended.max_score)
    return reply
