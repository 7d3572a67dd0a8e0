"""The conversation engine: every inbound message and event, of every kind, takes this one path.

How a turn stays exactly-once without holding a lock while it decides:

1. Read the turn's facts on the driver connection, outside any transaction: the stored reply,
   the follower, their rate window and their active attempt with its current and next item,
   in one statement (reads.read_base); a fact the decision needs besides is read on demand.
2. A reply stored under the message's key (sender + MsgId; sender + CreateTime for an event)
   is the answer: a WeChat retry or a copy on another worker gets it and changes nothing.
3. Decide (decide.decide): a pure function of the facts, the message, the config and the clock.
4. Write the decision's changes in one short transaction, each by its one writer (WRITERS).
   The writes are guarded: the message's key is unique; an attempt moves only while it is
   still active on the question that was read; the rate count must come out as decided; the
   follower's state must still be the one read; a start must win the one-active-attempt
   index; the signed request (timestamp, nonce) must not have brought another message (else the
   request is refused as a replay). If any guard fails (another copy committed first, a double
   tap on another worker, a quit in between), the transaction rolls back and the turn is read
   and decided again, at most MAX_TRIES times; after that, or if the database fails, the follower is asked to resend
   and nothing is stored.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import random
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from exports.settings import export_settings
from scheduler.delivery import write_delivery
from scheduler.plan import build_plan

from bot.config import Config, per_config
from bot.conversation import writers as conversation_writers
from bot.conversation.changes import (ClaimMessage, CountMessage, RecordChannel, RecordDelivery, SetState,
                                      SetSubscription, TouchFollower)
from bot.conversation.decide import Context, Decision, decide, decide_close
from bot.conversation.facts import Facts, Missing
from bot.conversation.message import Inbound
from bot.conversation.reads import read_base, read_missing
from bot.masking import short_openid
from bot.quiz import writers as quiz_writers
from bot.quiz.changes import MarkBest, MoveAttempt, RecordAnswer, StartAttempt, StoreContact
from bot.quiz.rules import ACTIVE, PrizeRule, closes_at_utc
from bot.storage.db import describe_db_error
from bot.storage.driver_sql import Conflict, DriverConnection, Statement, driver_connection
from bot.storage.signed_requests import Replayed

logger = logging.getLogger(__name__)

BUSY_TEXT = "系统繁忙，请稍后重新发送刚才的消息。"
MAX_TRIES = 4
_MAX_FACT_READS = 8

# The one writer of each change.
WRITERS = {
    ClaimMessage: conversation_writers.claim_message,
    CountMessage: conversation_writers.count_message,
    TouchFollower: conversation_writers.touch_follower,
    SetSubscription: conversation_writers.set_subscription,
    SetState: conversation_writers.set_state,
    RecordChannel: conversation_writers.record_channel,
    StartAttempt: quiz_writers.start_attempt,
    RecordAnswer: quiz_writers.record_answer,
    MoveAttempt: quiz_writers.move_attempt,
    MarkBest: quiz_writers.mark_best,
    StoreContact: quiz_writers.store_contact,
    RecordDelivery: write_delivery,
}


@dataclass(frozen=True)
class Answer:
    """The reply to a message: its text ("" for none), or busy when nothing could be stored."""

    text: str
    busy: bool = False
    create_time: int | None = None  # a stored reply's original CreateTime, so a retry gets the same XML
    replayed: bool = False  # the signed request already brought another message: refuse, store nothing


BUSY = Answer(BUSY_TEXT, busy=True)
REPLAYED = Answer("", replayed=True)

@per_config
def _static(config: Config) -> tuple[PrizeRule, tuple]:
    """The prize rule and the push plan, which every turn's context needs."""
    settings = export_settings(config)
    prize = PrizeRule(rule=settings.rule, places=sum(t.count for t in settings.tiers), pass_score=config.quiz.pass_score)
    return prize, tuple(build_plan(config))


_rng: dict[int, random.Random] = {}  # one per process: seeded anew in each forked worker


def _process_rng() -> random.Random:
    rng = _rng.get(os.getpid())
    if rng is None:
        _rng.clear()
        rng = _rng[os.getpid()] = random.Random()
    return rng


def context(config: Config, now: dt.datetime, rng: random.Random | None = None) -> Context:
    """The decision context for a turn at `now` (naive UTC)."""
    prize, plan = _static(config)
    return Context(config=config, prize=prize, plan=plan, now=now, rng=rng or _process_rng())


def _decide(conn: DriverConnection, runtime, inbound: Inbound, facts: Facts, ctx: Context,
            decider=decide) -> Decision:
    for _ in range(_MAX_FACT_READS):
        try:
            return decider(facts, inbound, ctx)
        except Missing as missing:
            read_missing(conn, runtime, inbound, facts, missing, local_today=ctx.today, now=ctx.now)
    raise RuntimeError("a decision kept asking for facts")


def write(conn: DriverConnection, decision: Decision, *, now: dt.datetime, config: Config) -> None:
    """Make a decision's changes in one transaction; Conflict or IntegrityError if a guard failed (rolled back)."""
    with conn.transaction():
        for change in decision.changes:
            WRITERS[type(change)](conn, change, now=now, config=config)


def handle(*, runtime, inbound: Inbound, now: dt.datetime | None = None) -> Answer:
    """Answer one message exactly once: its stored reply, or a new decision written with its changes."""
    now = now or runtime.clock()
    try:
        ctx = context(runtime.config, now)
        for attempt in range(MAX_TRIES):
            with driver_connection(runtime.db) as conn:
                facts = read_base(conn, inbound)
                if facts.stored_reply is not None:
                    logger.info("duplicate %s from %s: stored reply", _kind(inbound), short_openid(inbound.openid))
                    return Answer(facts.stored_reply, create_time=facts.stored_create_time)
                decision = _decide(conn, runtime, inbound, facts, ctx)
                try:
                    write(conn, decision, now=now, config=runtime.config)
                except Replayed:
                    logger.warning("replayed signature: %s from %s refused", _kind(inbound),
                                   short_openid(inbound.openid))
                    return REPLAYED
                except (Conflict, IntegrityError):
                    # Something moved since the read (or a copy committed first): decide again.
                    logger.debug("turn %s from %s changed under it (try %d)", _kind(inbound),
                                 short_openid(inbound.openid), attempt + 1)
                    continue
            _log_written(decision, inbound)
            return Answer(decision.reply)
        logger.warning("turn %s from %s kept changing under it: busy reply", _kind(inbound),
                       short_openid(inbound.openid))
        return BUSY
    except OperationalError as exc:
        # One line, not a traceback per message while the database is down or locked.
        logger.warning("database unavailable while handling %s: %s", _kind(inbound), describe_db_error(exc))
    except SQLAlchemyError:
        logger.exception("database error handling %s", _kind(inbound))
    except Exception:  # noqa: BLE001 - a follower must never see an error page
        logger.exception("unexpected error handling %s", _kind(inbound))
    return BUSY


_ACTIVE_OPENIDS = Statement("SELECT openid FROM attempts WHERE status = 'active' ORDER BY openid")


def close_open_attempts(*, runtime, now: dt.datetime | None = None) -> int:
    """End and score, at the close (quiz.closes_at), every attempt still open when answering closed.

    Run by the scheduler at the close and again on its tidy job; a follower who writes first has
    theirs ended by their own turn, the same way. Each attempt is read, decided (decide_close) and
    written like a turn, so a turn racing this one is detected by the same guards and redone.
    Returns how many attempts were ended.
    """
    now = now or runtime.clock()
    config = runtime.config
    if now <= closes_at_utc(config):
        return 0
    ctx = context(config, now)
    with driver_connection(runtime.db) as conn:
        openids = [row[0] for row in conn.rows(_ACTIVE_OPENIDS, {})]
    ended = 0
    for openid in openids:
        member = Inbound(openid=openid, account="", create_time=0, msg_type="close", msg_id=0, content="",
                         event="", raw={})
        for _ in range(MAX_TRIES):
            with driver_connection(runtime.db) as conn:
                facts = read_base(conn, member)
                decision = _decide(conn, runtime, member, facts, ctx, decide_close)
                if not decision.changes:
                    break
                try:
                    write(conn, decision, now=now, config=config)
                except (Conflict, IntegrityError):
                    continue
            _log_written(decision, member)
            ended += 1
            break
    if ended:
        logger.info("answering closed: %d open attempt(s) ended and scored at the close", ended)
    return ended


def _log_written(decision: Decision, inbound: Inbound) -> None:
    """Log the attempts a committed turn started or ended (once, after the commit)."""
    for change in decision.changes:
        if isinstance(change, StartAttempt):
            logger.info("attempt started by %s (%d questions)", short_openid(inbound.openid), len(change.items))
        elif isinstance(change, MoveAttempt) and change.status != ACTIVE:
            logger.info("attempt %s %s: %d points", change.attempt_id, change.status, change.score)


def _kind(inbound: Inbound) -> str:
    """Name a message in a log line without its sender's full openid."""
    return f"{inbound.event or inbound.msg_type} {inbound.msg_id or inbound.create_time}"
