"""The quiz's rules, each written once (pure functions: no Flask, SQL or XML).

Grading and partial credit (questions.grading, applied here), the activity window, attempt
limits, the time limit, double taps, the standing order and ranks without test accounts, and
how a result, a start and the prize rule are worded. The conversation decides with these; the
console, the exports and the writers use the same definitions.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

from questions.drawing import draw, shuffle_options, to_original_letters
from questions.grading import Parsed, grade
from questions.model import LETTERS, SINGLE, Question
from questions.render import (HINTS, correct_answer_text, format_duration, join_within_limit, render_feedback,
                              render_question)

from bot.config import Config
from bot.dates import day
from bot.masking import mask_phone

ACTIVE = "active"
FINISHED, EXPIRED, ABANDONED = "finished", "expired", "abandoned"
CLOSED = "closed"  # still open when answering closed (quiz.closes_at): ended and scored at the close
ENDED = (FINISHED, EXPIRED, ABANDONED, CLOSED)

# The standing order: higher score, then less time, then the earlier finish, then the lower id.
# Standings, ranks, the console and `top` winners all order by this one definition.
STANDING = (("score", "desc"), ("duration_seconds", "asc"), ("finished_at", "asc"), ("id", "asc"))


@dataclass(frozen=True)
class StandingKey:
    """Where an ended attempt stands: the fields of STANDING."""

    score: int
    duration_seconds: int
    finished_at: dt.datetime
    id: int

    def sort_key(self) -> tuple:
        return tuple(-getattr(self, f) if d == "desc" else getattr(self, f) for f, d in STANDING)


# A standing above every attempt: its rank read counts no one ahead, and every player.
ABOVE_ALL = StandingKey(score=2**62, duration_seconds=0, finished_at=dt.datetime(2000, 1, 1), id=0)


def ranks_above(a: StandingKey, b: StandingKey) -> bool:
    """Say whether attempt a stands above attempt b."""
    return a.sort_key() < b.sort_key()


# Users added in the web simulator's chat window; no WeChat openid has this prefix.
SIMULATOR_PREFIX = "sim-"


def is_test_account(openid: str, testers: tuple[str, ...]) -> bool:
    """A test account: one of quiz.testers, or a simulator user. It may play any time, without limits,
    and is left out of ranks, standings, results and draws (bot.quiz.standings.real_players in SQL)."""
    return openid in testers or openid.startswith(SIMULATOR_PREFIX)


def players_seen_by(openid: str, players: int, testers: tuple[str, ...]) -> int:
    """The player count a player is told: the real players, and a test account among them."""
    return players + (1 if is_test_account(openid, testers) else 0)


def question_of(snapshot: dict) -> Question:
    """Rebuild the question an attempt item shows from its snapshot."""
    return Question(qtype=snapshot["qtype"], stem=snapshot["stem"], options=tuple(snapshot["options"]),
                    answer=tuple(snapshot["answer"]), explanation=snapshot.get("explanation", ""),
                    points=snapshot["points"], category=snapshot.get("category", ""))


def _snapshot(question: Question, points: int) -> dict:
    return {"qtype": question.qtype, "stem": question.stem, "options": list(question.options),
            "answer": list(question.answer), "explanation": question.explanation, "points": points,
            "category": question.category}


def local(config: Config, now: dt.datetime) -> dt.datetime:
    """Turn a naive UTC time into the activity's local time."""
    return now.replace(tzinfo=dt.timezone.utc).astimezone(config.activity.tz)


# -- time limits and double taps -------------------------------------------------------------

def idle_too_long(config: Config, last_activity_at: dt.datetime, now: dt.datetime) -> bool:
    """Say whether an attempt last active at last_activity_at has run out of time by now."""
    return now - last_activity_at > dt.timedelta(minutes=config.quiz.time_limit_minutes)


def expired_at(config: Config, last_activity_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """When an attempt that ran out of time ended: at the limit, not when it was noticed."""
    return min(now, last_activity_at + dt.timedelta(minutes=config.quiz.time_limit_minutes))


def is_double_tap(create_time: int, last_answer_create_time: int) -> bool:
    """Say whether an answer was sent before its sender could have seen the current question."""
    return create_time <= last_answer_create_time


def duration_seconds(started_at: dt.datetime, at: dt.datetime) -> int:
    return max(int((at - started_at).total_seconds()), 0)


# -- the window and attempt limits ------------------------------------------------------------

def window_closed(config: Config, openid: str, local_now: dt.datetime) -> bool:
    """Say whether the quiz is closed to this follower now: before the start or after answering closed
    (quiz.closes_at); test accounts may play any time."""
    return (not is_test_account(openid, config.quiz.testers)
            and not config.activity.start <= local_now <= config.quiz.closes_at)


def closes_at_utc(config: Config) -> dt.datetime:
    """When answering closes, as the naive UTC the database and the clock use."""
    return config.quiz.closes_at.astimezone(dt.timezone.utc).replace(tzinfo=None)


def closed_for(config: Config, openid: str, now: dt.datetime) -> bool:
    """Say whether answering has closed for this follower at `now` (naive UTC)."""
    return not is_test_account(openid, config.quiz.testers) and now > closes_at_utc(config)


def results_line(config: Config) -> str:
    """Tell followers when and where the results are published."""
    quiz = config.quiz
    if quiz.results_text:
        return quiz.results_text
    if quiz.results_at is None:
        return "获奖名单将在本公众号公布，敬请关注。"
    return f"获奖名单将于{day(quiz.results_at)} {quiz.results_at:%H:%M}在本公众号公布，敬请关注。"


def window_text(config: Config, local_now: dt.datetime) -> str:
    """Tell a follower why the quiz is closed now."""
    activity, closes = config.activity, config.quiz.closes_at
    if local_now < activity.start:
        return (f"{activity.name}有奖竞答将于{day(activity.start)} {activity.start:%H:%M}开始，"
                f"届时回复“{config.keywords['quiz'][0]}”即可参加，敬请期待！")
    return f"本届有奖竞答已于{day(closes)} {closes:%H:%M}截止答题，感谢参与！{results_line(config)}"


def closed_text(config: Config, score: int) -> str:
    """Tell a player whose attempt was still open at the close that it was ended there."""
    closes = config.quiz.closes_at
    return (f"本届有奖竞答已于{day(closes)} {closes:%H:%M}截止答题，你的答题已按截止时的作答交卷，"
            f"未答的题目记0分。本次得分：{score}分。")


def over_time(config: Config, asked_at: dt.datetime, now: dt.datetime) -> int | None:
    """The seconds taken by an answer that came after the question's time limit (None: in time, or no limit).

    Timed by the server's clock: from when the question was sent (the previous turn, as stored) to
    when the answer arrived, never by the message's CreateTime, which the sender's phone sets.
    """
    limit = config.quiz.seconds_per_question
    taken = (now - asked_at).total_seconds()
    return int(taken) if limit and taken > limit else None


def question_text(config: Config, snapshot: dict, index: int, total: int) -> str:
    """Question `index` (0-based) of `total` as the follower sees it, with the configured time limit."""
    return render_question(question_of(snapshot), index + 1, total, config.quiz.seconds_per_question)


def may_start(config: Config, openid: str, total: int, today: int) -> bool:
    """Say whether a player who used `total` attempts, `today` of them today, may start another."""
    quiz = config.quiz
    return is_test_account(openid, quiz.testers) or (total < quiz.max_attempts and today < quiz.max_attempts_per_day)


def _next_day_text(config: Config, local_today: dt.date, *, suffix: str) -> str | None:
    tomorrow = local_today + dt.timedelta(days=1)
    if tomorrow > config.activity.end.date():
        return None
    return f"{tomorrow.month}月{tomorrow.day}日{suffix}"


def limit_text(config: Config, total: int, local_today: dt.date, best_line: str) -> str:
    """Tell a player who may not start another attempt why (all used, or today's used)."""
    quiz = config.quiz
    if total >= quiz.max_attempts:
        return f"你已用完全部{quiz.max_attempts}次答题机会。{best_line}".strip()
    when = _next_day_text(config, local_today, suffix="0点后可再来") or "本届竞答已无可用日期"
    return f"今天的答题次数已用完（每天{quiz.max_attempts_per_day}次），{when}。{best_line}".strip()


def attempts_left_text(config: Config, openid: str, total: int, today_count: int, local_today: dt.date,
                       now: dt.datetime | None = None) -> str:
    """Say how many attempts a player has left, given those used in all and today (none after the close)."""
    quiz = config.quiz
    if is_test_account(openid, quiz.testers):
        return "测试账号：不限答题次数，成绩不计入结果。"
    if now is not None and closed_for(config, openid, now):
        return f"本届竞答已截止答题。{results_line(config)}"
    left = max(quiz.max_attempts - total, 0)
    if left == 0:
        return "剩余答题机会：0次（机会已用完）"
    if today_count >= quiz.max_attempts_per_day:
        when = _next_day_text(config, local_today, suffix="可再来")
        return f"剩余答题机会：{left}次（今天的次数已用完，{when or '本届竞答已无可用日期'}）"
    return f"剩余答题机会：{left}次（回复“{config.keywords['quiz'][0]}”再来一次）"


# -- drawing and grading ------------------------------------------------------------------------

def draw_items(config: Config, pool, seen: set[int], rng: random.Random) -> list[dict]:
    """Draw an attempt's questions from a bank pool and shuffle their options: the items to store."""
    quiz = config.quiz
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


@dataclass(frozen=True)
class Graded:
    """An answer graded against the question it was given for, with the feedback to show."""

    response: str  # the answer as graded, as the follower typed it (letters in the order shown)
    original_choice: str | None  # chosen letters in the bank's original order
    correct: bool
    points: int
    feedback: str


def grade_answer(config: Config, question: Question, parsed: Parsed, *, points: int,
                 option_order: list[int]) -> Graded:
    """Grade a parsed answer and word the feedback (partial credit as configured)."""
    correct, awarded = grade(question, parsed, points=points, partial_credit=config.quiz.partial_credit)
    feedback = (render_feedback(question, parsed, correct=correct, points=awarded) if config.quiz.feedback
                else "已记录你的答案。")
    original = to_original_letters(parsed.letters, option_order) if parsed.letters else None
    return Graded(response=parsed.shown(), original_choice=original, correct=correct, points=awarded,
                  feedback=feedback)


def late_answer(config: Config, question: Question, response: str, taken: int) -> Graded:
    """An answer that came after the question's time limit: recorded as typed, zero points."""
    limit = config.quiz.seconds_per_question
    return Graded(response=response[:200], original_choice=None, correct=False, points=0,
                  feedback=f"⏰ 本题限时{limit}秒，你用了{taken}秒，超时作答不得分。"
                           f"正确答案：{correct_answer_text(question)}")


# -- wording ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PrizeRule:
    """How winners are chosen: "top" (the first `places` by standing) or "lottery", among those
    whose best score reaches pass_score."""

    rule: str
    places: int
    pass_score: int


def prize_line(prize: PrizeRule, best_score: int | None, *, encourage: bool = True, tester: bool = False) -> str:
    """Say what the prize rule asks of this player, given their best score so far (None: none yet)."""
    if tester:
        return "测试账号的成绩不参与评奖。"
    if best_score is not None and best_score >= prize.pass_score:
        if prize.rule == "lottery":
            return f"你已获得抽奖资格（最好成绩{best_score}分），活动结束后从合格者中抽奖。"
        return (f"你已达到获奖分数线（{prize.pass_score}分），活动结束后按成绩排名取前{prize.places}名获奖。")
    tail = "，继续加油！" if encourage else "。"
    if prize.rule == "lottery":
        return f"达到{prize.pass_score}分可获得抽奖资格{tail}"
    return f"成绩达到{prize.pass_score}分且排名前{prize.places}名可获奖{tail}"


def start_text(config: Config, prize: PrizeRule, number: int, items: list[dict], best_score: int | None, *,
               tester: bool = False) -> str:
    """The rules of attempt `number` and its first question."""
    quiz = config.quiz
    max_score = sum(item["snapshot"]["points"] for item in items)
    rules = (f"第{number}次答题开始！共{len(items)}题，满分{max_score}分；"
             f"{quiz.time_limit_minutes}分钟内不作答将自动交卷，回复“{config.keywords['quit'][0]}”可提前交卷。\n"
             f"{prize_line(prize, best_score, encourage=False, tester=tester)}")
    return f"{rules}\n\n{question_text(config, items[0]['snapshot'], 0, len(items))}"


def feedback_and_next(config: Config, graded: Graded, next_snapshot: dict, next_index: int, total: int) -> str:
    """The reply to an answer that is not the last: the feedback, then question next_index (0-based)."""
    return join_within_limit(graded.feedback, question_text(config, next_snapshot, next_index, total))


def expiry_text(config: Config, score: int) -> str:
    """Tell a player their attempt ran out of time."""
    return (f"你上次的答题超过{config.quiz.time_limit_minutes}分钟未作答，已自动交卷，未答的题目记0分。"
            f"本次得分：{score}分。")


def rank_line(rank: int, players: int) -> str:
    """The result message's line for an attempt that is the player's best."""
    return f"排名：第{rank}名（共{players}人参与）"


def best_line(score: int, duration: int, rank: int, players: int) -> str:
    """The line naming a player's best attempt and its rank."""
    return f"你的最好成绩：{score}分，用时{format_duration(duration)}，排名第{rank}名（共{players}人）。"


@dataclass(frozen=True)
class Ended:
    """An attempt as it ends, as the result message shows it."""

    score: int
    max_score: int
    correct_count: int
    total_questions: int
    duration_seconds: int


def asks_for_contact(config: Config, best_score: int, phone: str | None) -> bool:
    """Say whether a player whose best is best_score should now be asked for contact details."""
    return config.quiz.collect_contact and best_score >= config.quiz.pass_score and not phone


def result_text(config: Config, prize: PrizeRule, ended: Ended, headline: str, *, standing_line: str,
                attempts_left: str, best_score: int, name: str | None, phone: str | None,
                contact_prompt: str, tester: bool = False) -> str:
    """Word the result of an ended attempt, and what the prize rule now means for the player."""
    lines = [headline,
             f"得分：{ended.score}分（满分{ended.max_score}分）",
             f"答对：{ended.correct_count}/{ended.total_questions}题",
             f"用时：{format_duration(ended.duration_seconds)}",
             standing_line,
             attempts_left]
    qualified = best_score >= config.quiz.pass_score
    prize_text = prize_line(prize, best_score, tester=tester)
    if config.quiz.collect_contact and qualified:
        if phone:
            lines.append(f"\n{prize_text}领奖信息已登记（{name}，{mask_phone(phone)}）。如需修改，请回复新的“姓名 手机号”。")
        else:
            lines.append(f"\n{prize_text}{contact_prompt}")
    else:
        lines.append(prize_text)
    return "\n".join(lines)


def reminder(config: Config, text: str, current_index: int, total: int) -> str:
    """Add a one-line reminder of the quiz in progress to a keyword's reply."""
    return (f"{text}\n\n（答题进行中：当前第{current_index + 1}/{total}题，"
            f"直接回复答案继续，回复“{config.keywords['quit'][0]}”交卷）")


# Replies to the quit question that carry on with the quiz (never graded as an answer).
CONTINUE_WORDS = frozenset({"继续", "继续答题", "不", "不要", "否", "不交", "不交卷", "取消", "no", "n"})

# Replies that confirm ending an attempt early, besides the quit keywords themselves.
CONFIRM_WORDS = frozenset({"确定", "确认", "是", "是的", "确定交卷", "确认交卷", "y", "yes", "ok", "好", "好的"})


def confirm_quit_text(config: Config, answered: int, total: int, *, counts_toward_limit: bool = True) -> str:
    """Ask a player to confirm ending an attempt that has questions left."""
    left = total - answered
    used = "，并占用一次答题机会" if counts_toward_limit else ""
    return (f"确定要交卷吗？本次还有{left}题未答，交卷后未答的题目记0分{used}。\n"
            f"回复“确定”（或再次回复“{config.keywords['quit'][0]}”）交卷；回复答案或其他内容继续答题。")


def unrecognised_text(question: Question, text: str) -> str:
    """Tell a player why a reply was not read as an answer to the current question, and what is."""
    if not text:
        return f"答题只接受文字回复。{HINTS[question.qtype]}。"
    if question.qtype == SINGLE and len(set(_letters_in(text, len(question.options)))) > 1:
        return f"这是单选题，只能选一个选项。{HINTS[question.qtype]}。"
    return f"没有识别出你的答案。{HINTS[question.qtype]}。"


def _letters_in(text: str, options: int) -> str:
    valid = LETTERS[:options]
    return "".join(ch for ch in text.upper() if ch in valid)
