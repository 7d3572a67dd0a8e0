"""The dashboard's figures: followers, players, attempts, today's activity, the week by day and the channels."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from exports.channels import ChannelFigure, channel_figures

from bot.config import Config
from bot.storage.models import Attempt, Follower, InboundMessage
from bot.quiz.standings import ENDED, real_players


@dataclass(frozen=True)
class Today:
    """Activity on the current activity-local day."""

    day: dt.date
    new_followers: int
    messages: int
    attempts: int
    completions: int


@dataclass(frozen=True)
class Figures:
    """What the dashboard shows; testers are left out, as in the results."""

    followers_gained: int
    followers_total: int
    players: int
    attempts: int
    completions: int
    average_score: float | None
    max_score: int
    passed: int
    today: Today
    by_day: list[tuple[dt.date, int, int]]  # day, attempts started, distinct players
    scores: list[tuple[int, int]]  # best score, players
    channels: list[ChannelFigure]  # per channel code: followers brought, scans, players, qualified


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


def activity_days(config: Config) -> list[dt.date]:
    """Return every local date of the activity window."""
    first, last = config.activity.start.date(), config.activity.end.date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def figures(*, session: Session, config: Config, now: dt.datetime) -> Figures:
    """Count the dashboard's figures at `now` (naive UTC)."""
    testers = config.quiz.testers
    player_ok = real_players(Attempt.openid, testers)
    follower_ok = real_players(Follower.openid, testers)
    start, end = _utc(config.activity.start), _utc(config.activity.end)
    gained = session.scalar(select(func.count()).select_from(Follower).where(
        follower_ok, Follower.subscribed_at >= start, Follower.subscribed_at <= end))
    total = session.scalar(select(func.count()).select_from(Follower).where(follower_ok, Follower.subscribed.is_(True)))
    players, attempts = session.execute(
        select(func.count(distinct(Attempt.openid)), func.count()).where(player_ok)).one()
    completions = session.scalar(select(func.count()).select_from(Attempt).where(
        player_ok, Attempt.status == "finished"))
    best = (Attempt.best.is_(True), Attempt.status.in_(ENDED), player_ok)
    average, max_score, passed = session.execute(
        select(func.avg(Attempt.score), func.max(Attempt.max_score),
               func.count().filter(Attempt.score >= config.quiz.pass_score)).where(*best)).one()
    scores = [(int(s), int(n)) for s, n in session.execute(
        select(Attempt.score, func.count()).where(*best).group_by(Attempt.score).order_by(Attempt.score))]

    tz = config.activity.tz
    local_now = now.replace(tzinfo=dt.timezone.utc).astimezone(tz)
    day_start = _utc(dt.datetime.combine(local_now.date(), dt.time(0), tzinfo=tz))
    today = Today(
        day=local_now.date(),
        new_followers=session.scalar(select(func.count()).select_from(Follower).where(
            follower_ok, Follower.subscribed_at >= day_start)),
        messages=session.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.received_at >= day_start,
            real_players(InboundMessage.openid, testers))),
        attempts=session.scalar(select(func.count()).select_from(Attempt).where(
            player_ok, Attempt.local_day == local_now.date())),
        completions=session.scalar(select(func.count()).select_from(Attempt).where(
            player_ok, Attempt.local_day == local_now.date(), Attempt.status == "finished")),
    )
    counted = dict((day, (int(n), int(p))) for day, n, p in session.execute(
        select(Attempt.local_day, func.count(), func.count(distinct(Attempt.openid)))
        .where(player_ok).group_by(Attempt.local_day)))
    by_day = [(day, *counted.get(day, (0, 0))) for day in activity_days(config)]
    return Figures(followers_gained=gained, followers_total=total, players=players, attempts=attempts,
                   completions=completions, average_score=float(average) if average is not None else None,
                   max_score=int(max_score or 0), passed=int(passed or 0), today=today, by_day=by_day,
                   scores=scores,
                   channels=channel_figures(session, testers=testers, pass_score=config.quiz.pass_score))


def score_bars(scores: list[tuple[int, int]], *, max_score: int) -> list[tuple[str, int]]:
    """Label best-score counts: each score up to 100 points, else bands of ten."""
    if max_score <= 100:
        return [(f"{score}", n) for score, n in scores]
    bands: dict[int, int] = {}
    for score, n in scores:
        bands[score // 10 * 10] = bands.get(score // 10 * 10, 0) + n
    return [(f"{low}+", n) for low, n in sorted(bands.items())]
