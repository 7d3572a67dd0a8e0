"""The prize quiz in the chat: start, answer, expire, quit, standing.

All state is in the database; the attempt row is locked for the turn (FOR UPDATE on
PostgreSQL, the IMMEDIATE write lock on SQLite), so two copies of a turn are serialised and
the second sees the first one's result.
"""
from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass, replace

from sqlalchemy import bindparam, case, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from questions.drawing import draw, shuffle_options, to_original_letters
from questions.grading import grade, parse_answer
from questions.model import Question
from questions.render import HINTS, format_duration, join_within_limit, render_feedback, render_question

from . import contact
from .bank_pool import active_pool
from .masking import mask_phone, short_openid
from .models import Attempt, AttemptItem, Follower
from .outreach import day, match_reply
from .replies import Outgoing
from .standings import ENDED, player_count, players_seen_by, rank_of, refresh_best, standing_of

logger = logging.getLogger(__name__)


def _today(turn) -> dt.date:
    return turn.local_now.date()


def question_of(snapshot: dict) -> Question:
    """Rebuild the question an attempt item shows from its snapshot."""
    return Question(qtype=snapshot["qtype"], stem=snapshot["stem"], options=tuple(snapshot["options"]),
                    answer=tuple(snapshot["answer"]), explanation=snapshot.get("explanation", ""),
                    points=snapshot["points"], category=snapshot.get("category", ""))


def _snapshot(question: Question, points: int) -> dict:
    return {"qtype": question.qtype, "stem": question.stem, "options": list(question.options),
            "answer": list(question.answer), "explanation": question.explanation, "points": points,
            "category": question.category}


# Hot-path statements are built once; only their parameters change per turn.
_ACTIVE_ATTEMPT = (select(Attempt).where(Attempt.openid == bindparam("openid"), Attempt.status == "active")
                   .with_for_update())
_NEW_ATTEMPT = insert(Attempt.__table__).values(
    openid=bindparam("openid"), bank_id=bindparam("bank_id"), status="active", started_at=bindparam("now"),
    local_day=bindparam("local_day"), last_activity_at=bindparam("now"), total_questions=bindparam("total"),
    current_index=0, score=0, max_score=bindparam("max_score"), correct_count=0,
    last_answer_create_time=bindparam("create_time"), best=False)
_NEW_ITEMS = insert(AttemptItem.__table__)
_USED = (select(func.count(), func.coalesce(func.sum(case((Attempt.local_day == bindparam("today"), 1), else_=0)), 0))
         .where(Attempt.openid == bindparam("openid")))
_SEEN = select(AttemptItem.question_id).join(Attempt).where(Attempt.openid == bindparam("openid"))
_ITEMS_FROM = (select(AttemptItem).where(AttemptItem.attempt_id == bindparam("attempt_id"),
                                         AttemptItem.position.in_(bindparam("positions", expanding=True)))
               .order_by(AttemptItem.position))


def _current_item(turn, attempt: Attempt) -> AttemptItem:
    return turn.session.scalars(_ITEMS_FROM, {"attempt_id": attempt.id, "positions": [attempt.current_index]}).one()


def _render_current(turn, attempt: Attempt) -> str:
    item = _current_item(turn, attempt)
    return render_question(question_of(item.snapshot), attempt.current_index + 1, attempt.total_questions)


def active_attempt(turn) -> Attempt | None:
    """Return the follower's active attempt, locked for this turn."""
    return turn.session.scalars(_ACTIVE_ATTEMPT, {"openid": turn.openid}).first()


def idle_too_long(config, last_activity_at: dt.datetime, now: dt.datetime) -> bool:
    """Say whether an attempt last active at last_activity_at has run out of time by now."""
    return now - last_activity_at > dt.timedelta(minutes=config.quiz.time_limit_minutes)


def _expired(turn, attempt: Attempt) -> bool:
    return idle_too_long(turn.config, attempt.last_activity_at, turn.now)


def _end(turn, attempt: Attempt, status: str, at: dt.datetime) -> None:
    attempt.status = status
    attempt.finished_at = at
    attempt.duration_seconds = max(int((at - attempt.started_at).total_seconds()), 0)
    turn.session.flush()
    best_id = refresh_best(session=turn.session, openid=attempt.openid)
    set_committed_value(attempt, "best", best_id == attempt.id)  # the UPDATE already stored it


def _expire(turn, attempt: Attempt) -> None:
    limit = dt.timedelta(minutes=turn.config.quiz.time_limit_minutes)
    _end(turn, attempt, "expired", min(turn.now, attempt.last_activity_at + limit))


def _used(turn, openid: str) -> tuple[int, int]:
    """Return (attempts used in all, attempts started today), counting the active one."""
    total, today_count = turn.session.execute(_USED, {"openid": openid, "today": _today(turn)}).one()
    return int(total), int(today_count)


def _attempts_left_text(turn, openid: str) -> str:
    total, today = (0, 0) if openid in turn.config.quiz.testers else _used(turn, openid)
    return attempts_left_text(turn.config, openid, total, today, _today(turn))


def attempts_left_text(config, openid: str, total: int, today_count: int, local_today: dt.date) -> str:
    """Say how many attempts a player has left, given those used in all and today."""
    quiz = config.quiz
    if openid in quiz.testers:
        return "测试账号：不限答题次数，成绩不计入结果"
    left = max(quiz.max_attempts - total, 0)
    if left == 0:
        return "剩余答题机会：0次（机会已用完）"
    if today_count >= quiz.max_attempts_per_day:
        tomorrow = local_today + dt.timedelta(days=1)
        if tomorrow > config.activity.end.date():
            return f"剩余答题机会：{left}次（今天的次数已用完，本届竞答已无可用日期）"
        return f"剩余答题机会：{left}次（今天的次数已用完，{tomorrow.month}月{tomorrow.day}日可再来）"
    return f"剩余答题机会：{left}次（回复“{config.keywords['quiz'][0]}”再来一次）"


def _best_line(turn, openid: str) -> str:
    standing = standing_of(session=turn.session, openid=openid, testers=turn.config.quiz.testers)
    if standing is None:
        return ""
    return (f"你的最好成绩：{standing.attempt.score}分，用时{format_duration(standing.attempt.duration_seconds)}，"
            f"排名第{standing.rank}名（共{standing.players}人）。")


def window_closed(config, openid: str, local_now: dt.datetime) -> bool:
    """Say whether the quiz is closed to this follower now (testers may play any time)."""
    activity = config.activity
    return openid not in config.quiz.testers and not activity.start <= local_now <= activity.end


def _window_block(turn) -> str | None:
    activity = turn.config.activity
    local_now = turn.local_now
    if not window_closed(turn.config, turn.openid, local_now):
        return None
    if local_now < activity.start:
        return (f"{activity.name}有奖竞答将于{day(activity.start)} {activity.start:%H:%M}开始，"
                f"届时回复“{turn.config.keywords['quiz'][0]}”即可参加，敬请期待！")
    return (f"本届有奖竞答已于{day(activity.end)} {activity.end:%H:%M}结束，感谢关注！"
            "获奖名单将在本公众号公布。")


def may_start(config, openid: str, total: int, today: int) -> bool:
    """Say whether a player who used `total` attempts, `today` of them today, may start another."""
    quiz = config.quiz
    return openid in quiz.testers or (total < quiz.max_attempts and today < quiz.max_attempts_per_day)


def _limit_block(turn, openid: str, total: int, today: int) -> str | None:
    quiz = turn.config.quiz
    if may_start(turn.config, openid, total, today):
        return None
    if total >= quiz.max_attempts:
        return f"你已用完全部{quiz.max_attempts}次答题机会。{_best_line(turn, openid)}".strip()
    tomorrow = _today(turn) + dt.timedelta(days=1)  # not may_start: today's attempts are used up
    if tomorrow > turn.config.activity.end.date():
        when = "本届竞答已无可用日期"
    else:
        when = f"{tomorrow.month}月{tomorrow.day}日0点后可再来"
    return (f"今天的答题次数已用完（每天{quiz.max_attempts_per_day}次），{when}。"
            f"{_best_line(turn, openid)}").strip()


def _seen(turn, openid: str) -> set[int]:
    return set(turn.session.scalars(_SEEN, {"openid": openid}))


def with_quiz_reminder(turn, follower: Follower, text: str) -> Outgoing:
    """Add a one-line reminder of the quiz in progress to a keyword's reply."""
    return _with_reminder(turn, active_attempt(turn), text)


def _with_reminder(turn, attempt: Attempt | None, text: str) -> Outgoing:
    """Add the reminder for an attempt already loaded in this turn."""
    if attempt is None or attempt.status != "active" or _expired(turn, attempt):
        return Outgoing(text=text)
    return Outgoing(text=f"{text}\n\n（答题进行中：当前第{attempt.current_index + 1}/{attempt.total_questions}题，"
                         f"直接回复答案继续，回复“{turn.config.keywords['quit'][0]}”交卷）")


def start(turn, follower: Follower) -> Outgoing:
    """Start an attempt (or resume the one in progress) and ask question 1."""
    attempt = active_attempt(turn)
    if attempt is not None:
        if not _expired(turn, attempt):
            return Outgoing(text="你正在答题中，请继续作答：\n\n" + _render_current(turn, attempt))
        _expire(turn, attempt)
        prefix = _expiry_text(turn, attempt) + "\n\n"
    else:
        prefix = ""
    closed = _window_block(turn)
    if closed:
        return Outgoing(text=prefix + closed)
    total, started_today = _used(turn, follower.openid)
    blocked = _limit_block(turn, follower.openid, total, started_today)
    if blocked:
        return Outgoing(text=prefix + blocked)
    quiz = turn.config.quiz
    pool = active_pool(session=turn.session, database_url=turn.runtime.db.url, name=quiz.bank)
    if pool is None or not pool.candidates:
        logger.warning("quiz bank %r has no questions; follower %s could not start", quiz.bank,
                       short_openid(follower.openid))
        return Outgoing(text=prefix + "题库正在准备中，请稍后再试。")
    items = draw_items(turn.config, pool, _seen(turn, follower.openid))
    max_score = sum(item["snapshot"]["points"] for item in items)
    try:
        with turn.session.begin_nested():
            attempt_id = turn.session.execute(_NEW_ATTEMPT, {
                "openid": follower.openid, "bank_id": pool.bank_id, "now": turn.now, "local_day": _today(turn),
                "total": len(items), "max_score": max_score,
                "create_time": turn.inbound.create_time}).inserted_primary_key[0]
            turn.session.execute(_NEW_ITEMS, [{**item, "attempt_id": attempt_id} for item in items])
    except IntegrityError:
        # A concurrent "start" on another worker won the one-active-attempt constraint.
        current = active_attempt(turn)
        return Outgoing(text="你正在答题中，请继续作答：\n\n" + _render_current(turn, current))
    logger.info("attempt %s started by %s (%d questions)", attempt_id, short_openid(follower.openid), len(items))
    return Outgoing(text=prefix + start_text(turn.config, total + 1, items))


def draw_items(config, pool, seen: set[int]) -> list[dict]:
    """Draw an attempt's questions from a bank pool and shuffle their options: the items to store."""
    quiz = config.quiz
    rng = random.Random()
    ids = draw(pool.candidates, count=min(quiz.questions_per_attempt, len(pool.candidates)), rng=rng,
               seen=seen, by_type=quiz.draw_types, by_category=quiz.draw_categories)
    items = []
    for position, qid in enumerate(ids):
        stored = pool.questions[qid]
        points = stored.points or quiz.default_points
        shown, order = shuffle_options(replace(stored, points=points), rng)
        items.append({"position": position, "question_id": qid, "snapshot": _snapshot(shown, points),
                      "option_order": order})
    return items


def start_text(config, number: int, items: list[dict]) -> str:
    """The rules of attempt `number` and its first question."""
    quiz = config.quiz
    max_score = sum(item["snapshot"]["points"] for item in items)
    rules = (f"第{number}次答题开始！共{len(items)}题，满分{max_score}分；"
             f"{quiz.time_limit_minutes}分钟内不作答将自动交卷，回复“{config.keywords['quit'][0]}”可提前交卷。")
    return f"{rules}\n\n{render_question(question_of(items[0]['snapshot']), 1, len(items))}"


def _expiry_text(turn, attempt: Attempt) -> str:
    return (f"你上次的答题超过{turn.config.quiz.time_limit_minutes}分钟未作答，已自动交卷，未答的题目记0分。"
            f"本次得分：{attempt.score}分。")


def rank_line(rank: int, players: int) -> str:
    """The result message's line for an attempt that is the player's best."""
    return f"排名：第{rank}名（共{players}人参与）"


def _result_text(turn, follower: Follower, attempt: Attempt, headline: str) -> str:
    if attempt.best:
        testers = turn.config.quiz.testers
        players = players_seen_by(follower.openid, player_count(session=turn.session, testers=testers), testers)
        standing_line = rank_line(rank_of(session=turn.session, attempt=attempt, testers=testers), players)
    else:
        standing_line = _best_line(turn, follower.openid)
    text, ask_contact = result_text(turn.config, attempt, headline, standing_line=standing_line,
                                    attempts_left=_attempts_left_text(turn, follower.openid),
                                    name=follower.name, phone=follower.phone)
    if ask_contact:
        follower.state = contact.STATE
    return text


def result_text(config, ended, headline: str, *, standing_line: str, attempts_left: str, name: str | None,
                phone: str | None) -> tuple[str, bool]:
    """Word the result of an ended attempt (anything with score, max_score, correct_count,
    total_questions and duration_seconds); also say whether to ask for contact details now."""
    lines = [headline,
             f"得分：{ended.score}分（满分{ended.max_score}分）",
             f"答对：{ended.correct_count}/{ended.total_questions}题",
             f"用时：{format_duration(ended.duration_seconds)}",
             standing_line,
             attempts_left]
    quiz = config.quiz
    ask_contact = False
    if quiz.collect_contact and ended.score >= quiz.pass_score:
        if phone:
            lines.append(f"\n你已达到获奖资格线，领奖信息已登记（{name}，{mask_phone(phone)}）。"
                         "如需修改，请回复新的“姓名 手机号”。")
        else:
            ask_contact = True
            lines.append("\n" + contact.prompt_text(quiz.pass_score))
    elif ended.score < quiz.pass_score:
        lines.append(f"达到{quiz.pass_score}分可获得抽奖资格，继续加油！")
    return "\n".join(lines), ask_contact


@dataclass(frozen=True)
class Graded:
    """An answer graded against the question it was given for, with the feedback to show."""

    response: str  # the answer as graded, in the letters shown
    original_choice: str | None  # chosen letters in the bank's original order
    correct: bool
    points: int
    feedback: str


def grade_answer(config, question: Question, parsed, *, points: int, option_order: list[int]) -> Graded:
    """Grade a parsed answer and word the feedback (pure: the caller stores the result)."""
    correct, awarded = grade(question, parsed, points=points, partial_credit=config.quiz.partial_credit)
    feedback = (render_feedback(question, parsed, correct=correct, points=awarded) if config.quiz.feedback
                else "已记录你的答案。")
    original = to_original_letters(parsed.letters, option_order) if parsed.letters else None
    return Graded(response=parsed.shown(), original_choice=original, correct=correct, points=awarded,
                  feedback=feedback)


def feedback_and_next(graded: Graded, next_snapshot: dict, next_index: int, total: int) -> str:
    """The reply to an answer that is not the last: the feedback, then question next_index (0-based)."""
    return join_within_limit(graded.feedback, render_question(question_of(next_snapshot), next_index + 1, total))


def answer(turn, follower: Follower, attempt: Attempt, text: str) -> Outgoing:
    """Grade an answer to the current question once, then ask the next or show the result."""
    if _expired(turn, attempt):
        _expire(turn, attempt)
        return Outgoing(text=_expiry_text(turn, attempt) + "\n\n"
                        + _result_text(turn, follower, attempt, "本次答题已结束。"))
    if turn.inbound.create_time <= attempt.last_answer_create_time:
        # Sent before the follower could have seen the current question: a double tap.
        return Outgoing(text="已收到你的上一题答案，请回答当前题目：\n\n" + _render_current(turn, attempt))
    # The current question and the next one, in one query.
    item, *following = turn.session.scalars(
        _ITEMS_FROM, {"attempt_id": attempt.id, "positions": [attempt.current_index, attempt.current_index + 1]}).all()
    question = question_of(item.snapshot)
    parsed = parse_answer(question, text) if text else None
    if parsed is None:
        reply = match_reply(turn.config, text) if text else None
        if reply:
            return _with_reminder(turn, attempt, reply)
        what = "没有识别出你的答案" if text else "答题只接受文字回复"
        current = render_question(question, attempt.current_index + 1, attempt.total_questions)
        return Outgoing(text=f"{what}，{HINTS[question.qtype]}。这条回复不计入作答：\n\n" + current)
    graded = grade_answer(turn.config, question, parsed, points=item.snapshot["points"],
                          option_order=item.option_order)
    item.response = graded.response
    item.original_choice = graded.original_choice
    item.correct = graded.correct
    item.points_awarded = graded.points
    item.answered_at = turn.now
    attempt.score += graded.points
    attempt.correct_count += int(graded.correct)
    attempt.current_index += 1
    attempt.last_activity_at = turn.now
    attempt.last_answer_create_time = turn.inbound.create_time
    if attempt.current_index >= attempt.total_questions:
        _end(turn, attempt, "finished", turn.now)
        logger.info("attempt %s finished: %d/%d", attempt.id, attempt.score, attempt.max_score)
        return Outgoing(text=join_within_limit(graded.feedback, _result_text(turn, follower, attempt, "答题结束！")))
    return Outgoing(text=feedback_and_next(graded, following[0].snapshot, attempt.current_index,
                                           attempt.total_questions))


def quit_attempt(turn, follower: Follower) -> Outgoing:
    """End the active attempt now and score it (unanswered questions score zero)."""
    attempt = active_attempt(turn)
    if attempt is None:
        return Outgoing(text=f"你当前没有进行中的答题。回复“{turn.config.keywords['quiz'][0]}”开始。")
    if _expired(turn, attempt):
        _expire(turn, attempt)
        return Outgoing(text=_expiry_text(turn, attempt) + "\n\n"
                        + _result_text(turn, follower, attempt, "本次答题已结束。"))
    _end(turn, attempt, "abandoned", turn.now)
    return Outgoing(text=_result_text(turn, follower, attempt, "已交卷，本次答题结束。"))


def standing(turn, follower: Follower) -> Outgoing:
    """Tell the follower their best score, rank and attempts left."""
    attempt = active_attempt(turn)
    if attempt is not None and _expired(turn, attempt):
        _expire(turn, attempt)
    best = _best_line(turn, follower.openid)
    if not best:
        text = f"你还没有完成过答题。回复“{turn.config.keywords['quiz'][0]}”参加有奖竞答。"
    else:
        ended = turn.session.scalar(select(func.count()).select_from(Attempt)
                                    .where(Attempt.openid == follower.openid, Attempt.status.in_(ENDED)))
        text = f"{best}\n已答题{ended}次。{_attempts_left_text(turn, follower.openid)}"
    return _with_reminder(turn, attempt, text)
