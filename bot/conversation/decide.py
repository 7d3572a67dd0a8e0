"""Deciding one turn: a pure function of the facts read, the message, the config and the clock.

`decide` returns the reply and the changes to make; it reads nothing and writes nothing (a
fact it lacks is asked for with facts.Missing). Events and keywords are answered in every
state (EVERY_STATE); everything else goes to the follower's state (STATES, see states.py).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import Callable

from questions.grading import parse_answer
from questions.render import join_within_limit

from bot.config import Config
from bot.quiz.prizes import notice_text
from bot.conversation import outreach, ratelimit, states
from bot.conversation.changes import (ClaimMessage, CountMessage, RecordChannel, RecordDelivery, SetState,
                                      SetSubscription, TouchFollower)
from bot.conversation.facts import Facts
from bot.conversation.message import Inbound
from bot.conversation.states import AWAIT_CONTACT, CONFIRM_QUIT, IDLE, IN_QUIZ
from bot.masking import short_openid
from bot.masking import mask_phone
from bot.quiz import details, leaderboard, registration, rules
from bot.quiz.changes import MarkBest, MoveAttempt, RecordAnswer, StartAttempt, StoreContact
from bot.quiz.rules import ABANDONED, ACTIVE, CLOSED, EXPIRED, FINISHED, PrizeRule, StandingKey

logger = logging.getLogger(__name__)

# last_message_at only needs minute precision (the 48-hour customer-service window), so a
# busy follower does not cost an UPDATE on every turn.
LAST_MESSAGE_RESOLUTION = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Context:
    """What a decision may use besides the facts: the config, the prize rule, the push plan, clock, chance."""

    config: Config
    prize: PrizeRule
    plan: tuple  # scheduler.plan.PlannedPush, for 活动安排
    now: dt.datetime  # naive UTC
    rng: random.Random

    @property
    def local_now(self) -> dt.datetime:
        return rules.local(self.config, self.now)

    @property
    def today(self) -> dt.date:
        return self.local_now.date()


@dataclass(frozen=True)
class Outcome:
    """What a handler decided: the reply text, the state that follows, the changes."""

    reply: str
    state: str
    changes: tuple = ()
    # In AWAIT_CONTACT: the registration field asked for ("" for name and mobile); None keeps what was asked.
    awaiting: str | None = None


@dataclass(frozen=True)
class Decision:
    """A whole turn: the reply to store and send ("" for none) and every change, in writing order."""

    reply: str
    changes: tuple = ()


Handler = Callable[[Facts, Inbound, Context, str], Outcome]


# -- helpers shared by handlers ----------------------------------------------------------------

def _overdue(facts: Facts, ctx: Context) -> str | None:
    """How the active attempt ended before this message: EXPIRED (idle past the time limit) or CLOSED
    (answering closed, quiz.closes_at), whichever came first; None while it is live."""
    attempt, config = facts.attempt, ctx.config
    if attempt is None:
        return None
    openid = facts.follower.openid if facts.follower else ""
    closed = rules.closed_for(config, openid, ctx.now)
    if rules.idle_too_long(config, attempt.last_activity_at, ctx.now):
        if not closed or rules.expired_at(config, attempt.last_activity_at, ctx.now) <= rules.closes_at_utc(config):
            return EXPIRED
    return CLOSED if closed else None


def _overdue_text(config: Config, status: str, score: int) -> str:
    return rules.closed_text(config, score) if status == CLOSED else rules.expiry_text(config, score)


def _live_attempt(facts: Facts, ctx: Context):
    """The active attempt, unless it has run out of time or answering has closed."""
    return None if facts.attempt is None or _overdue(facts, ctx) else facts.attempt


def _with_reminder(facts: Facts, ctx: Context, text: str) -> str:
    attempt = _live_attempt(facts, ctx)
    if attempt is None:
        return text
    return rules.reminder(ctx.config, text, attempt.current_index, attempt.total_questions)


def _current_question_text(facts: Facts, ctx: Context) -> str:
    attempt, item = facts.attempt, facts.items[0]
    return rules.question_text(ctx.config, item.snapshot, attempt.current_index, attempt.total_questions)


@dataclass(frozen=True)
class _Standing:
    key: StandingKey
    rank: int
    players: int
    ended: int


def _standing(facts: Facts, ctx: Context, openid: str, ended: StandingKey | None = None) -> _Standing | None:
    """The player's standing once `ended` (an attempt this turn ends) is counted, from facts read before."""
    prev = facts.best()
    if ended is not None and (prev is None or rules.ranks_above(ended, prev.key)):
        key, new_player = ended, prev is None
    elif prev is not None:
        key, new_player = prev.key, False
    else:
        return None
    rank = facts.rank(key)
    testers = ctx.config.quiz.testers
    players = rank.players + (1 if new_player and not rules.is_test_account(openid, testers) else 0)
    ended_count = (prev.ended if prev else 0) + (1 if ended is not None else 0)
    return _Standing(key=key, rank=rank.ahead + 1, players=rules.players_seen_by(openid, players, testers),
                     ended=ended_count)


def _best_line(facts: Facts, ctx: Context, openid: str, ended: StandingKey | None = None) -> str:
    standing = _standing(facts, ctx, openid, ended)
    if standing is None:
        return ""
    return rules.best_line(standing.key.score, standing.key.duration_seconds, standing.rank, standing.players)


def _best_score(facts: Facts, ended_score: int | None = None) -> int | None:
    prev = facts.best()
    scores = [s for s in (prev.key.score if prev else None, ended_score) if s is not None]
    return max(scores) if scores else None


def _attempts_left(facts: Facts, ctx: Context, openid: str) -> str:
    total, today = (0, 0) if rules.is_test_account(openid, ctx.config.quiz.testers) else facts.used()
    return rules.attempts_left_text(ctx.config, openid, total, today, ctx.today, ctx.now)


@dataclass(frozen=True)
class _Ending:
    """What ending the active attempt changes, and the attempt as it ends."""

    changes: tuple
    key: StandingKey
    ended: rules.Ended


def _ending(facts: Facts, msg: Inbound, ctx: Context, *, status: str, graded: rules.Graded | None = None) -> _Ending:
    """End the active attempt: finished by its last answer (graded), expired, or abandoned."""
    attempt = facts.attempt
    changes: list = []
    if status == EXPIRED:
        at = rules.expired_at(ctx.config, attempt.last_activity_at, ctx.now)
        last_activity, last_create_time = attempt.last_activity_at, attempt.last_answer_create_time
    elif status == CLOSED:
        at = rules.closes_at_utc(ctx.config)
        last_activity, last_create_time = attempt.last_activity_at, attempt.last_answer_create_time
    else:
        at, last_activity = ctx.now, ctx.now
        last_create_time = msg.create_time if graded else attempt.last_answer_create_time
    score, correct, next_index = attempt.score, attempt.correct_count, attempt.current_index
    if graded is not None:
        changes.append(RecordAnswer(attempt_id=attempt.id, index=attempt.current_index, response=graded.response,
                                    original_choice=graded.original_choice, correct=graded.correct,
                                    points=graded.points))
        score, correct, next_index = score + graded.points, correct + int(graded.correct), next_index + 1
    duration = rules.duration_seconds(attempt.started_at, at)
    key = StandingKey(score=score, duration_seconds=duration, finished_at=at, id=attempt.id)
    changes.append(MoveAttempt(attempt_id=attempt.id, index=attempt.current_index, next_index=next_index,
                               score=score, correct_count=correct, last_activity_at=last_activity,
                               last_answer_create_time=last_create_time, status=status, finished_at=at,
                               duration_seconds=duration))
    prev = facts.best()
    if prev is None or rules.ranks_above(key, prev.key):
        changes.append(MarkBest(openid=msg.openid, attempt_id=attempt.id))
    ended = rules.Ended(score=score, max_score=attempt.max_score, correct_count=correct,
                        total_questions=attempt.total_questions, duration_seconds=duration)
    return _Ending(changes=tuple(changes), key=key, ended=ended)


def _state_after_end(facts: Facts, ctx: Context, best_score: int) -> str:
    phone = facts.follower.phone if facts.follower else None
    return AWAIT_CONTACT if rules.asks_for_contact(ctx.config, best_score, phone) else IDLE


def _end_attempt(facts: Facts, msg: Inbound, ctx: Context, *, status: str, headline: str,
                 graded: rules.Graded | None = None) -> Outcome:
    """End the active attempt and word the result."""
    facts.prefetch("best", "used")
    config, openid = ctx.config, msg.openid
    ending = _ending(facts, msg, ctx, status=status, graded=graded)
    standing = _standing(facts, ctx, openid, ending.key)
    if standing.key == ending.key:
        standing_line = rules.rank_line(standing.rank, standing.players)
    else:
        standing_line = rules.best_line(standing.key.score, standing.key.duration_seconds, standing.rank,
                                        standing.players)
    follower = facts.follower
    name, phone = (follower.name, follower.phone) if follower else (None, None)
    text = rules.result_text(config, ctx.prize, ending.ended, headline, standing_line=standing_line,
                             attempts_left=_attempts_left(facts, ctx, openid), best_score=standing.key.score,
                             name=name, phone=phone, contact_prompt=registration.request_text(),
                             tester=rules.is_test_account(openid, config.quiz.testers))
    if status in (EXPIRED, CLOSED):
        text = _overdue_text(config, status, ending.ended.score) + "\n\n" + text
    if graded is not None:
        text = join_within_limit(graded.feedback, text)
    return Outcome(text, _state_after_end(facts, ctx, standing.key.score), ending.changes)


# -- keywords, answered in every state ---------------------------------------------------------

def _help(facts, msg, ctx, state) -> Outcome:
    return Outcome(_with_reminder(facts, ctx, outreach.help_text(ctx.config)), state)


def _schedule(facts, msg, ctx, state) -> Outcome:
    return Outcome(_with_reminder(facts, ctx, outreach.schedule_text(ctx.config, ctx.plan)), state)


def _lectures(facts, msg, ctx, state) -> Outcome:
    return Outcome(_with_reminder(facts, ctx, facts.lectures()), state)


def _start(facts, msg, ctx, state) -> Outcome:
    """Start an attempt (or resume the one in progress) and ask question 1."""
    config, openid = ctx.config, msg.openid
    prefix, changes, ended_key = "", [], None
    if facts.attempt is not None:
        overdue = _overdue(facts, ctx)
        if overdue is None:
            return Outcome("你正在答题中，请继续作答：\n\n" + _current_question_text(facts, ctx), IN_QUIZ)
        facts.prefetch("best")
        expired = _ending(facts, msg, ctx, status=overdue)
        changes.extend(expired.changes)
        prefix = _overdue_text(config, overdue, expired.ended.score) + "\n\n"
        ended_key = expired.key
    after = IDLE if state in (IN_QUIZ, CONFIRM_QUIT) else state
    if rules.window_closed(config, openid, ctx.local_now):
        return Outcome(prefix + rules.window_text(config, ctx.local_now), after, tuple(changes))
    facts.prefetch("used", "best", "pool", "seen")
    total, today = facts.used()
    if not rules.may_start(config, openid, total, today):
        best = _best_line(facts, ctx, openid, ended_key)
        return Outcome(prefix + rules.limit_text(config, total, ctx.today, best), after, tuple(changes))
    pool = facts.pool()
    if pool is None or not pool.candidates:
        logger.warning("quiz bank %r has no questions; follower %s could not start", config.quiz.bank,
                       short_openid(openid))
        return Outcome(prefix + "题库正在准备中，请稍后再试。", after, tuple(changes))
    items = rules.draw_items(config, pool, set(facts.seen()), ctx.rng)
    best_score = _best_score(facts, ended_key.score if ended_key else None)
    changes.append(StartAttempt(openid=openid, bank_id=pool.bank_id, local_day=ctx.today, items=tuple(items),
                                max_score=sum(i["snapshot"]["points"] for i in items),
                                create_time=msg.create_time))
    text = rules.start_text(config, ctx.prize, total + 1, items, best_score,
                            tester=rules.is_test_account(openid, config.quiz.testers))
    return Outcome(prefix + text, IN_QUIZ, tuple(changes))


def _rank(facts, msg, ctx, state) -> Outcome:
    """Tell the follower their best score, rank and attempts left."""
    facts.prefetch("best", "used")
    changes, ended_key, after = (), None, state
    overdue = _overdue(facts, ctx)
    if overdue:
        expired = _ending(facts, msg, ctx, status=overdue)
        changes, ended_key = expired.changes, expired.key
    standing = _standing(facts, ctx, msg.openid, ended_key)
    if ended_key is not None:
        after = _state_after_end(facts, ctx, standing.key.score)
    if standing is None:
        text = f"你还没有完成过答题。回复“{ctx.config.keywords['quiz'][0]}”参加有奖竞答。"
    else:
        best = rules.best_line(standing.key.score, standing.key.duration_seconds, standing.rank, standing.players)
        text = f"{best}\n已答题{standing.ended}次。{_attempts_left(facts, ctx, msg.openid)}"
    return Outcome(_with_reminder(facts, ctx, text), after, changes)


def _leaderboard(facts, msg, ctx, state) -> Outcome:
    """The top players (masked), how many play, and the follower's own standing."""
    facts.prefetch("top", "best")
    standing = _standing(facts, ctx, msg.openid)
    players = standing.players if standing else facts.rank(rules.ABOVE_ALL).players
    own = (standing.key.score, standing.key.duration_seconds, standing.rank) if standing else None
    shows = details.detail_settings(ctx.config).leaderboard_shows
    text = leaderboard.leaderboard_text(leaderboard.entries(facts.top(), shows), players=players, own=own,
                                        quiz_word=ctx.config.keywords["quiz"][0])
    return Outcome(_with_reminder(facts, ctx, text), state)


def _quit(facts, msg, ctx, state) -> Outcome:
    """Ask to confirm ending the attempt early; end it once confirmed."""
    if facts.attempt is None:
        return Outcome(f"你当前没有进行中的答题。回复“{ctx.config.keywords['quiz'][0]}”开始。", state)
    overdue = _overdue(facts, ctx)
    if overdue:
        return _end_attempt(facts, msg, ctx, status=overdue, headline="本次答题已结束。")
    if state == CONFIRM_QUIT:
        return _end_attempt(facts, msg, ctx, status=ABANDONED, headline="已交卷，本次答题结束。")
    attempt = facts.attempt
    text = rules.confirm_quit_text(ctx.config, attempt.current_index, attempt.total_questions,
                                   counts_toward_limit=not rules.is_test_account(msg.openid, ctx.config.quiz.testers))
    return Outcome(text + "\n\n" + _current_question_text(facts, ctx), CONFIRM_QUIT)


def _ask_contact(facts, msg, ctx, state) -> Outcome:
    """Ask a qualified player for their details (the 领奖 keyword or menu item)."""
    config = ctx.config
    if not config.quiz.collect_contact:
        return Outcome(registration.NOT_COLLECTED_TEXT, state)
    best = _best_score(facts)
    if best is None or best < config.quiz.pass_score:
        return Outcome(_with_reminder(facts, ctx, registration.below_pass_text(config, best)), state)
    follower = facts.follower
    if state in (IN_QUIZ, CONFIRM_QUIT):
        text = (registration.registered_text(follower.name, follower.phone) if follower and follower.phone
                else registration.prompt_text(config.quiz.pass_score))
        return Outcome(_with_reminder(facts, ctx, text), state)
    if follower and follower.phone:
        # Registered: a correction is read in any state, so nothing is awaited.
        return Outcome(registration.registered_text(follower.name, follower.phone), IDLE)
    return Outcome(registration.prompt_text(config.quiz.pass_score), AWAIT_CONTACT)


ACTIONS: dict[str, Handler] = {
    "help": _help,
    "schedule": _schedule,
    "lectures": _lectures,
    "quiz": _start,
    "rank": _rank,
    "leaderboard": _leaderboard,
    "quit": _quit,
    "contact": _ask_contact,
}


# -- what each state does with the rest ----------------------------------------------------------

def _answer(facts, msg, ctx, state) -> Outcome:
    """Grade an answer to the current question once, then ask the next or show the result."""
    overdue = _overdue(facts, ctx)
    if overdue:
        return _end_attempt(facts, msg, ctx, status=overdue, headline="本次答题已结束。")
    attempt, config = facts.attempt, ctx.config
    if rules.is_double_tap(msg.create_time, attempt.last_answer_create_time):
        return Outcome("已收到你的上一题答案，请回答当前题目：\n\n" + _current_question_text(facts, ctx), IN_QUIZ)
    item = facts.items[0]
    question = rules.question_of(item.snapshot)
    text = msg.content if msg.msg_type == "text" else ""
    parsed = parse_answer(question, text) if text else None
    taken = rules.over_time(config, attempt.last_activity_at, ctx.now)
    if taken is not None and (parsed is not None or not outreach.match_reply(config, text)):
        # Too late for this question, whatever it says: zero points, and the next question.
        return _move_on(facts, msg, ctx, rules.late_answer(config, question, text, taken))
    if parsed is None:
        reply = outreach.match_reply(config, text) if text else None
        if reply:
            return Outcome(_with_reminder(facts, ctx, reply), IN_QUIZ)
        return Outcome(f"{rules.unrecognised_text(question, text)}这条回复不计入作答：\n\n"
                       + _current_question_text(facts, ctx), IN_QUIZ)
    graded = rules.grade_answer(config, question, parsed, points=item.snapshot["points"],
                                option_order=item.option_order)
    return _move_on(facts, msg, ctx, graded)


def _move_on(facts, msg, ctx, graded: rules.Graded) -> Outcome:
    """Record a graded answer to the current question, then ask the next or show the result."""
    attempt = facts.attempt
    if attempt.current_index + 1 >= attempt.total_questions:
        return _end_attempt(facts, msg, ctx, status=FINISHED, headline="答题结束！", graded=graded)
    changes = (
        RecordAnswer(attempt_id=attempt.id, index=attempt.current_index, response=graded.response,
                     original_choice=graded.original_choice, correct=graded.correct, points=graded.points),
        MoveAttempt(attempt_id=attempt.id, index=attempt.current_index, next_index=attempt.current_index + 1,
                    score=attempt.score + graded.points, correct_count=attempt.correct_count + int(graded.correct),
                    last_activity_at=ctx.now, last_answer_create_time=msg.create_time, status=ACTIVE),
    )
    reply = rules.feedback_and_next(ctx.config, graded, facts.items[1].snapshot, attempt.current_index + 1,
                                    attempt.total_questions)
    return Outcome(reply, IN_QUIZ, changes)


def _confirm_or_continue(facts, msg, ctx, state) -> Outcome:
    """After the quit question: a yes ends the attempt; anything else carries on with the quiz."""
    text = msg.content if msg.msg_type == "text" else ""
    word = outreach.normalize(text).rstrip("!！。.")
    if word in rules.CONFIRM_WORDS:
        return _quit(facts, msg, ctx, CONFIRM_QUIT)
    if word in rules.CONTINUE_WORDS:  # never an answer, even to a fill-in question
        return Outcome("好的，继续答题：\n\n" + _current_question_text(facts, ctx), IN_QUIZ)
    if _overdue(facts, ctx) or (text and parse_answer(rules.question_of(facts.items[0].snapshot), text)):
        return _answer(facts, msg, ctx, IN_QUIZ)
    return Outcome("好的，继续答题：\n\n" + _current_question_text(facts, ctx), IN_QUIZ)


def _receive_contact(facts, msg, ctx, state) -> Outcome:
    """Check and store a qualified player's details: name + mobile, and the configured fields (all in one
    message, or one at a time as asked); corrections overwrite; then ask for what is still required."""
    config, text = ctx.config, msg.content
    if not config.quiz.collect_contact:
        return Outcome(registration.NOT_COLLECTED_TEXT, IDLE)
    best = _best_score(facts)
    if best is None or best < config.quiz.pass_score:
        # Details from a player below the pass score: say what registration needs; store nothing.
        return Outcome(registration.below_pass_text(config, best), IDLE)
    settings = details.detail_settings(config)
    stored = facts.details() if settings.fields else {}
    awaiting = states.awaited(facts) if state == AWAIT_CONTACT else ""
    read = details.read_details(text, settings, awaiting=awaiting)
    follower = facts.follower
    had_phone = bool(follower and follower.phone)
    problems = list(read.problems)
    contact = None
    if registration.looks_like_contact(read.rest) or not (had_phone or read.values or problems):
        parsed = registration.parse_contact(read.rest, outreach.all_keywords(config))
        if isinstance(parsed, str):
            problems.insert(0, parsed)
        else:
            contact = parsed
    name = contact.name if contact else (follower.name if follower else None)
    phone = contact.phone if contact else (follower.phone if follower else None)
    merged = {**stored, **read.values}
    todo = details.missing(settings, merged)
    changes = ()
    lines = []
    if contact or read.values:
        changes = (StoreContact(openid=msg.openid, name=contact.name if contact else None,
                                phone=contact.phone if contact else None,
                                details=tuple(sorted(read.values.items()))),)
        if phone:
            verb = "已更新" if had_phone or (stored and read.values) else "已登记"
            lines.append(f"{verb}领奖信息：{name}，手机号 {mask_phone(phone)}{details.echo_lines(settings, merged)}。")
        else:
            lines.append(f"已记下{details.echo_lines(settings, read.values).lstrip('，')}。")
    lines += problems
    if not phone:
        lines.append(registration.request_text().splitlines()[0])
        return Outcome("\n".join(lines), AWAIT_CONTACT, changes, awaiting="")
    if todo:
        lines.append(details.ask_text(settings, todo[0]))
        return Outcome("\n".join(lines), AWAIT_CONTACT, changes, awaiting=todo[0])
    if problems and not changes:
        return Outcome("\n".join(lines), state)
    other = f"，其他信息写明项目再发，如“{details.LABELS[settings.fields[0]]}：…”" if settings.fields else ""
    lines.append(f"如需修改，重新发送“姓名 手机号”即可{other}。\n{registration.USE_NOTE}")
    return Outcome("\n".join(lines), IDLE, changes)


def _other_text(facts, msg, ctx, state) -> Outcome:
    """Text outside the quiz: contact details, a configured reply, or a short help."""
    text = msg.content if msg.msg_type == "text" else ""
    settings = details.detail_settings(ctx.config)
    if text and (registration.looks_like_contact(text) or details.looks_like_details(text, settings)
                 or (state == AWAIT_CONTACT and states.awaited(facts))):
        return _receive_contact(facts, msg, ctx, state)
    reply = outreach.match_reply(ctx.config, text) if text else None
    if reply:
        return Outcome(reply, state)
    unknown = outreach.unknown_text(ctx.config)
    if rules.closed_for(ctx.config, msg.openid, ctx.now):
        helpword = ctx.config.keywords["help"][0]
        unknown = (f"本届有奖竞答已截止答题，感谢参与！{rules.results_line(ctx.config)}"
                   f"回复“{helpword}”查看其他关键词。")
    if state == AWAIT_CONTACT:
        return Outcome(f"{unknown}\n{registration.hint_line()}", state)
    return Outcome(unknown, state)


STATES: dict[str, Handler] = {
    IDLE: _other_text,
    IN_QUIZ: _answer,
    CONFIRM_QUIT: _confirm_or_continue,
    AWAIT_CONTACT: _other_text,
}


# -- the turn ---------------------------------------------------------------------------------

def _run_key(facts, msg, ctx, state, key: str) -> Outcome:
    """A menu key: an action name or a configured reply's id."""
    if key in ACTIONS:
        return ACTIONS[key](facts, msg, ctx, state)
    text = outreach.reply_by_id(ctx.config, key)
    return Outcome(text or outreach.unknown_text(ctx.config), state)


def _event(facts, msg, ctx, state) -> Outcome:
    if msg.event in ("subscribe", "subscribe_scan"):
        changes = [SetSubscription(openid=msg.openid, subscribed=True)]
        if msg.event == "subscribe_scan" and msg.content:
            changes.append(RecordChannel(openid=msg.openid, scene=msg.content[:64], event="subscribe"))
        return Outcome(outreach.welcome_text(ctx.config, ctx.local_now), state, tuple(changes))
    if msg.event == "scan":
        # A follower scanning a channel code (a poster, a school's code): counted, and shown the activity.
        changes = (RecordChannel(openid=msg.openid, scene=msg.content[:64], event="scan"),) if msg.content else ()
        return Outcome(_with_reminder(facts, ctx, outreach.welcome_text(ctx.config, ctx.local_now)), state, changes)
    if msg.event == "unsubscribe":
        return Outcome("", state, (SetSubscription(openid=msg.openid, subscribed=False),))
    if msg.event == "click":
        return _run_key(facts, msg, ctx, state, msg.content)
    return Outcome("", state)


def _route(facts, msg, ctx, state) -> Outcome:
    if msg.msg_type == "event":
        return _event(facts, msg, ctx, state)
    text = msg.content if msg.msg_type == "text" else ""
    if text:
        action = outreach.match_action(ctx.config, text)
        if action:
            if state == CONFIRM_QUIT and action != "quit":
                state = IN_QUIZ  # anything but a second quit word carries on with the quiz
            return ACTIONS[action](facts, msg, ctx, state)
        key = outreach.menu_key(ctx.config, text)
        if key:  # someone typed a menu button's label: do what the button does
            return _run_key(facts, msg, ctx, state, key)
    return STATES[state](facts, msg, ctx, state)


def _with_prize(facts: Facts, msg: Inbound, ctx: Context, outcome: Outcome) -> Outcome:
    """After answering closed, a winner of the final draw in force is told their prize with every reply."""
    if not outcome.reply or not rules.closed_for(ctx.config, msg.openid, ctx.now):
        return outcome
    prize = facts.prize()
    if prize is None:
        return outcome
    return Outcome(join_within_limit(f"🎉 {notice_text(ctx.config, prize)}", outcome.reply), outcome.state,
                   outcome.changes)


def _touch(facts: Facts, msg: Inbound, now: dt.datetime) -> TouchFollower | None:
    is_event = msg.msg_type == "event"
    follower = facts.follower
    stale = not is_event and (follower is None or follower.last_message_at is None
                              or now - follower.last_message_at >= LAST_MESSAGE_RESOLUTION)
    if follower is not None and not stale:
        return None
    return TouchFollower(openid=msg.openid, create=follower is None, subscribed_if_new=not is_event,
                         last_message=stale)


def decide(facts: Facts, msg: Inbound, ctx: Context) -> Decision:
    """Decide the reply to one message and the changes it makes (the stored reply is the engine's)."""
    kind = msg.event or msg.msg_type
    if msg.msg_type == "event" and msg.event == "masssendjobfinish":
        # Sent by the platform about our own mass send, not by a follower.
        return Decision("", (RecordDelivery(fields=msg.raw), _claim(msg, kind, "")))
    window = facts.rate
    rate = ratelimit.decide(ctx.config.ratelimit, msg_type=msg.msg_type, event=msg.event,
                            window_count=window.count if window else None,
                            window_ends=window.expires_at if window else None, now=ctx.now)
    counted = (CountMessage(openid=msg.openid, allowed=rate.allowed),) if rate.count else ()
    if not rate.allowed:
        # Stored with the throttled reply, so its retries change nothing either.
        return Decision(ratelimit.THROTTLED_TEXT, (*counted, _claim(msg, kind, ratelimit.THROTTLED_TEXT)))
    state = states.state_of(facts)
    outcome = _route(facts, msg, ctx, state)
    outcome = _with_prize(facts, msg, ctx, outcome)
    if outcome.state not in states.TRANSITIONS[state]:
        raise AssertionError(f"undeclared transition {state} -> {outcome.state}")
    touch = _touch(facts, msg, ctx.now)
    changes = [*counted, *((touch,) if touch else ()), *outcome.changes]
    current = facts.follower.state if facts.follower else None
    awaiting = outcome.awaiting
    if awaiting is None:
        awaiting = states.awaited(facts) if state == AWAIT_CONTACT else ""
    wanted = states.stored_state(outcome.state, facts.attempt.id if facts.attempt else None, awaiting)
    if wanted != current:
        changes.append(SetState(openid=msg.openid, old=current, new=wanted))
    changes.append(_claim(msg, kind, outcome.reply))
    return Decision(outcome.reply, tuple(changes))


def _claim(msg: Inbound, kind: str, reply: str) -> ClaimMessage:
    return ClaimMessage(key=msg.dedupe_key, openid=msg.openid, msg_type=kind, create_time=msg.create_time,
                        reply=reply, signed=msg.signed)


def decide_close(facts: Facts, msg: Inbound, ctx: Context) -> Decision:
    """End, at the close, the attempt a follower still had open when answering closed (no reply is sent).

    `msg` stands for the follower (only its openid is read); the changes are _ending's, and the
    follower's state returns to idle or to waiting for contact details, as after any ended attempt.
    """
    if facts.attempt is None or _overdue(facts, ctx) is None:
        return Decision("")
    facts.prefetch("best")
    status = _overdue(facts, ctx)
    ending = _ending(facts, msg, ctx, status=status)
    best = _best_score(facts, ending.key.score)
    changes = list(ending.changes)
    current = facts.follower.state if facts.follower else None
    wanted = states.stored_state(_state_after_end(facts, ctx, best), None)
    if wanted != current:
        changes.append(SetState(openid=msg.openid, old=current, new=wanted))
    return Decision("", tuple(changes))
