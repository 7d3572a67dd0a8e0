"""Read-side queries for the exports; large results are streamed, never loaded whole."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.storage.models import Attempt, AttemptItem, Follower, PushLog, QuestionRow
from bot.quiz.standings import ENDED, STANDING_ORDER, real_players

from exports.winners import Player

BATCH = 1000


@dataclass(frozen=True, slots=True)
class PlayerResult:
    """A player's best ended attempt as shown on the 参与者成绩 sheet."""

    openid: str
    attempt_id: int
    status: str
    score: int
    max_score: int
    correct_count: int
    total_questions: int
    duration_seconds: int
    finished_at: dt.datetime
    name: str
    phone: str


@dataclass(frozen=True)
class QuestionStat:
    """How one question fared: drawn, answered, answered right, the most common wrong answer."""

    question_id: int
    qtype: str
    stem: str
    options: tuple[str, ...]
    drawn: int
    answered: int
    correct: int
    top_wrong: str
    top_wrong_count: int

    @property
    def correct_rate(self) -> float | None:
        return self.correct / self.answered if self.answered else None


@dataclass(frozen=True)
class Overview:
    """The week's figures for the report."""

    window_start: dt.datetime  # naive UTC
    window_end: dt.datetime
    followers_gained: int
    followers_lost: int
    contacts: int
    players: int
    attempts: int
    completions: int
    ranked_players: int
    average_best_score: float | None
    passed: int
    max_score: int
    distribution: tuple[tuple[str, int], ...]


def window_utc(config: Config) -> tuple[dt.datetime, dt.datetime]:
    """Return the activity window as naive UTC bounds."""
    return _naive_utc(config.activity.start), _naive_utc(config.activity.end)


def draw_candidates(session: Session, *, pass_score: int) -> list[Player]:
    """Return every player whose best ended attempt reaches the pass score."""
    stmt = (select(Attempt.openid, Attempt.id, Attempt.score, Attempt.max_score, Attempt.duration_seconds,
                   Attempt.finished_at, Follower.name, Follower.phone)
            .join(Follower, Follower.openid == Attempt.openid)
            .where(Attempt.best.is_(True), Attempt.score >= pass_score, real_players(Attempt.openid))
            .order_by(*STANDING_ORDER))
    return [Player(openid=r.openid, attempt_id=r.id, score=r.score, max_score=r.max_score,
                   duration_seconds=r.duration_seconds or 0, finished_at=r.finished_at,
                   name=r.name or "", phone=r.phone or "")
            for r in session.execute(stmt)]


def stream_players(session: Session, *, exclude: frozenset[str]) -> Iterator[PlayerResult]:
    """Yield each player's best ended attempt in the standing order, a batch at a time."""
    stmt = (select(Attempt.openid, Attempt.id, Attempt.status, Attempt.score, Attempt.max_score,
                   Attempt.correct_count, Attempt.total_questions, Attempt.duration_seconds, Attempt.finished_at,
                   Follower.name, Follower.phone)
            .join(Follower, Follower.openid == Attempt.openid)
            .where(Attempt.best.is_(True), _not_excluded(Attempt.openid, exclude))
            .order_by(*STANDING_ORDER)
            .execution_options(yield_per=BATCH))
    for r in session.execute(stmt):
        yield PlayerResult(r.openid, r.id, r.status, r.score, r.max_score, r.correct_count, r.total_questions,
                           r.duration_seconds or 0, r.finished_at, r.name or "", r.phone or "")


def question_stats(session: Session, *, exclude: frozenset[str]) -> list[QuestionStat]:
    """Return per-question figures, hardest (lowest correct rate) first; unanswered ones last."""
    answered = AttemptItem.response.is_not(None)
    counts = session.execute(
        select(AttemptItem.question_id, func.count(),
               func.sum(case((answered, 1), else_=0)),
               func.sum(case((AttemptItem.correct.is_(True), 1), else_=0)))
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(_not_excluded(Attempt.openid, exclude))
        .group_by(AttemptItem.question_id)).all()
    # Choice questions: the letters chosen, in the bank's original order; 判断/填空: the answer as given.
    given = func.coalesce(AttemptItem.original_choice, AttemptItem.response)
    wrong: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for qid, value, n in session.execute(
            select(AttemptItem.question_id, given, func.count())
            .join(Attempt, Attempt.id == AttemptItem.attempt_id)
            .where(answered, AttemptItem.correct.is_(False), _not_excluded(Attempt.openid, exclude))
            .group_by(AttemptItem.question_id, given)):
        wrong[qid].append((n, value))
    ids = [row[0] for row in counts]
    questions = {q.id: q for q in session.scalars(select(QuestionRow).where(QuestionRow.id.in_(ids)))} if ids else {}
    stats = []
    for qid, drawn, n_answered, n_correct in counts:
        q = questions[qid]
        # Most chosen first; among equals the smallest answer, so the sheet is the same on every run.
        top = min(wrong[qid], key=lambda item: (-item[0], item[1]), default=(0, ""))
        stats.append(QuestionStat(question_id=qid, qtype=q.qtype, stem=q.stem, options=tuple(q.options or ()),
                                  drawn=drawn, answered=int(n_answered or 0), correct=int(n_correct or 0),
                                  top_wrong=top[1], top_wrong_count=top[0]))
    stats.sort(key=lambda s: (s.correct_rate is None, s.correct_rate or 0.0, -s.answered, s.question_id))
    return stats


def push_rows(session: Session) -> list[PushLog]:
    """Return the push log in planned order."""
    return list(session.scalars(select(PushLog).order_by(PushLog.planned_at.is_(None), PushLog.planned_at,
                                                         PushLog.key)))


def overview(session: Session, *, config: Config, exclude: frozenset[str]) -> Overview:
    """Count the week's followers, players, attempts, completions and the best-score distribution."""
    start, end = window_utc(config)
    follower_ok = _not_excluded(Follower.openid, exclude)
    attempt_ok = _not_excluded(Attempt.openid, exclude)
    gained = session.scalar(select(func.count()).select_from(Follower).where(
        follower_ok, Follower.subscribed_at >= start, Follower.subscribed_at <= end))
    lost = session.scalar(select(func.count()).select_from(Follower).where(
        follower_ok, Follower.unsubscribed_at >= start, Follower.unsubscribed_at <= end))
    contacts = session.scalar(select(func.count()).select_from(Follower).where(
        follower_ok, Follower.phone.is_not(None), Follower.phone != ""))
    players, attempts, completions = session.execute(
        select(func.count(distinct(Attempt.openid)), func.count(),
               func.sum(case((Attempt.status == "finished", 1), else_=0)))
        .where(attempt_ok)).one()
    best = (Attempt.best.is_(True), Attempt.status.in_(ENDED), attempt_ok)
    ranked, average, passed, max_score = session.execute(
        select(func.count(), func.avg(Attempt.score),
               func.sum(case((Attempt.score >= config.quiz.pass_score, 1), else_=0)), func.max(Attempt.max_score))
        .where(*best)).one()
    by_score = session.execute(select(Attempt.score, func.count()).where(*best)
                               .group_by(Attempt.score).order_by(Attempt.score)).all()
    return Overview(window_start=start, window_end=end, followers_gained=gained, followers_lost=lost,
                    contacts=contacts, players=players, attempts=attempts, completions=int(completions or 0),
                    ranked_players=ranked, average_best_score=float(average) if average is not None else None,
                    passed=int(passed or 0), max_score=int(max_score or 0),
                    distribution=score_distribution([(int(s), int(n)) for s, n in by_score],
                                                    max_score=int(max_score or 0)))


def score_distribution(counts: list[tuple[int, int]], *, max_score: int) -> tuple[tuple[str, int], ...]:
    """Label score counts: each score when the maximum is at most 100, else bands of 10 points."""
    if max_score <= 100:
        return tuple((f"{score}分", n) for score, n in sorted(counts))
    bands: dict[int, int] = defaultdict(int)
    for score, n in counts:
        bands[score // 10 * 10] += n
    return tuple((f"{low}-{low + 9}分", n) for low, n in sorted(bands.items()))


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _not_excluded(column, exclude: frozenset[str]):
    """Real players not in `exclude`: simulator users are never results (test accounts are in `exclude`)."""
    return real_players(column, exclude=exclude)
