"""Figures per unit (工作单位) and per district (所在区县) from the registration details, and the
organisation award (组织奖): the top units by players, or by players per head count where the
config gives one ([registration] award_units, headcounts). Test accounts are left out.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.quiz.details import detail_settings
from bot.quiz.standings import ENDED, real_players
from bot.storage.models import Attempt, Registration


@dataclass(frozen=True)
class GroupFigures:
    name: str
    players: int  # registered players of the group who played
    finished: int  # attempts answered to the end
    qualified: int  # players whose best reaches the pass score
    average_best: float | None  # average of the players' best scores
    headcount: int | None = None  # from the config, for the award

    @property
    def per_head(self) -> float | None:
        return self.players / self.headcount if self.headcount else None


def _figures(session: Session, config: Config, column) -> list[GroupFigures]:
    pass_score = config.quiz.pass_score
    player_ok = real_players(Attempt.openid, config.quiz.testers)
    best = Attempt.best.is_(True) & Attempt.status.in_(ENDED)
    rows = session.execute(
        select(column,
               func.count(distinct(Attempt.openid)),
               func.count().filter(Attempt.status == "finished"),
               func.count(distinct(case((best & (Attempt.score >= pass_score), Attempt.openid)))),
               func.avg(case((best, Attempt.score))))
        .join(Attempt, Attempt.openid == Registration.openid)
        .where(column.is_not(None), player_ok)
        .group_by(column))
    heads = dict(detail_settings(config).headcounts)
    figures = [GroupFigures(name=name, players=int(players), finished=int(finished), qualified=int(qualified),
                            average_best=float(average) if average is not None else None, headcount=heads.get(name))
               for name, players, finished, qualified, average in rows]
    return sorted(figures, key=lambda g: (-g.players, -(g.average_best or 0), g.name))


def unit_figures(session: Session, config: Config) -> list[GroupFigures]:
    """Per 工作单位, most players first."""
    return _figures(session, config, Registration.unit)


def district_figures(session: Session, config: Config) -> list[GroupFigures]:
    """Per 所在区县, most players first; every configured district appears, with zeros if nobody played."""
    found = {g.name: g for g in _figures(session, config, Registration.district)}
    for name in detail_settings(config).districts:
        found.setdefault(name, GroupFigures(name=name, players=0, finished=0, qualified=0, average_best=None))
    return sorted(found.values(), key=lambda g: (-g.players, -(g.average_best or 0), g.name))


def award_basis(config: Config) -> str:
    return "按参与率（参与人数 ÷ 单位人数）" if detail_settings(config).headcounts else "按参与人数"


def organisation_award(units: list[GroupFigures], config: Config) -> list[GroupFigures]:
    """The units that win the organisation award, best first (none when award_units is 0)."""
    settings = detail_settings(config)
    if not settings.award_units:
        return []
    if settings.headcounts:
        ranked = sorted((u for u in units if u.headcount), key=lambda u: (-u.per_head, -u.players, u.name))
    else:
        ranked = list(units)
    return ranked[: settings.award_units]
