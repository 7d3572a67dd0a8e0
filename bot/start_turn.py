"""The quiz start on the driver connection: a follower with no attempt in progress starts one.

Like the common answer (answer_turn), the start reads without a lock and then writes in one
short transaction; every unusual case takes the general path (quiz_flow.start), which words
it: an attempt in progress or expired, the activity not open, no attempts left, a bank not yet
read by this process or changed since, a concurrent start. The drawing and the reply are the
same functions (quiz_flow.draw_items, quiz_flow.start_text).
"""
from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy.exc import IntegrityError

from .answer_turn import CLAIM, TOUCH, FallBack, count_message
from .bank_pool import cached_pool, is_current
from .driver_sql import DriverConnection, Statement, driver_connection
from .followers import last_message_stale
from .masking import short_openid
from .quiz_flow import draw_items, may_start, start_text, window_closed
from .replies import Outgoing, render_reply

logger = logging.getLogger(__name__)

# One round trip: the stored reply for this message, whether an attempt is in progress, the follower.
_READ = Statement("""
    SELECT m.reply, (SELECT count(*) FROM attempts WHERE openid = :openid AND status = 'active'),
           f.openid, f.last_message_at
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN inbound_messages m ON m.dedupe_key = :key
    LEFT JOIN followers f ON f.openid = :openid
""")
_NEW_FOLLOWER = Statement("""
    INSERT INTO followers (openid, first_seen_at, subscribed) VALUES (:openid, :now, :yes)
    ON CONFLICT (openid) DO NOTHING
""")
_USED_AND_BANK = Statement("""
    SELECT (SELECT count(*) FROM attempts WHERE openid = :openid),
           (SELECT count(*) FROM attempts WHERE openid = :openid AND local_day = :today),
           b.id, b.version, b.imported_at
    FROM banks b WHERE b.name = :bank
""")
_SEEN = Statement("""
    SELECT i.question_id FROM attempt_items i JOIN attempts a ON a.id = i.attempt_id WHERE a.openid = :openid
""")
_NEW_ATTEMPT = Statement("""
    INSERT INTO attempts (openid, bank_id, status, started_at, local_day, last_activity_at, total_questions,
                          current_index, score, max_score, correct_count, last_answer_create_time, best)
    VALUES (:openid, :bank_id, 'active', :now, :today, :now, :total, 0, 0, :max_score, 0, :create_time, :no)
    RETURNING id
""")
_NEW_ITEM = Statement("""
    INSERT INTO attempt_items (attempt_id, position, question_id, snapshot, option_order, points_awarded)
    VALUES (:attempt_id, :position, :question_id, :snapshot, :option_order, 0)
""")


def try_start(runtime, inbound, now: dt.datetime) -> str | None:
    """Start an attempt for a follower with none in progress and return the reply; None for the general path."""
    config = runtime.config
    local_now = now.replace(tzinfo=dt.timezone.utc).astimezone(config.activity.tz)
    if window_closed(config, inbound.openid, local_now):
        return None
    pool = cached_pool(database_url=runtime.db.url, name=config.quiz.bank)
    if pool is None or not pool.candidates:
        return None
    with driver_connection(runtime.db) as conn:
        stored, active, known, last_message_at = conn.rows(_READ, {"key": inbound.dedupe_key,
                                                                    "openid": inbound.openid})[0]
        if stored is not None:
            logger.info("duplicate %s from %s: stored reply", inbound.dedupe_key, short_openid(inbound.openid))
            return stored
        if active:
            return None
        try:
            return _write(runtime, conn, inbound, now, local_now.date(), pool,
                          new_follower=known is None, touch=last_message_stale(conn.read_time(last_message_at), now))
        except FallBack:
            return None


def _write(runtime, conn: DriverConnection, inbound, now: dt.datetime, today: dt.date, pool, *,
           new_follower: bool, touch: bool) -> str:
    config, openid = runtime.config, inbound.openid
    at = conn.stored_time(now)
    params = {"openid": openid, "now": at, "today": conn.stored_date(today), "bank": config.quiz.bank,
              "yes": True, "no": False, "key": inbound.dedupe_key, "create_time": inbound.create_time}
    with conn.transaction():
        count_message(conn, config.ratelimit, inbound, now)
        if new_follower:
            conn.execute(_NEW_FOLLOWER, params)
        if touch:  # always for a new follower: no last message yet
            conn.execute(TOUCH, params)
        rows = conn.rows(_USED_AND_BANK, params)
        if not rows:
            raise FallBack  # no such bank
        total, started_today, bank_id, version, imported_at = rows[0]
        if not may_start(config, openid, int(total), int(started_today)) or not is_current(
                pool, bank_id, version, conn.read_time(imported_at)):
            raise FallBack
        items = draw_items(config, pool, {row[0] for row in conn.rows(_SEEN, params)})
        params.update(bank_id=bank_id, total=len(items), max_score=sum(i["snapshot"]["points"] for i in items))
        try:
            attempt_id = conn.rows(_NEW_ATTEMPT, params)[0][0]
        except IntegrityError:
            raise FallBack from None  # a concurrent start won the one-active-attempt index
        conn.execute_many(_NEW_ITEM, [{"attempt_id": attempt_id, "position": i["position"],
                                       "question_id": i["question_id"], "snapshot": json.dumps(i["snapshot"]),
                                       "option_order": json.dumps(i["option_order"])} for i in items])
        reply = render_reply(Outgoing(text=start_text(config, int(total) + 1, items)), to_user=openid,
                             from_user=inbound.account, create_time=inbound.create_time)
        conn.execute(CLAIM, {**params, "reply": reply})
    logger.info("attempt %s started by %s (%d questions)", attempt_id, short_openid(openid), len(items))
    return reply
