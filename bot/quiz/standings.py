"""The standing order as SQLAlchemy expressions, for the console and the exports (bot.quiz.rules.STANDING).

A player's standing is their best ended attempt (Attempt.best, kept by bot.quiz.writers.mark_best).
"""
from __future__ import annotations

from sqlalchemy import and_, func

from bot.quiz.rules import ENDED, SIMULATOR_PREFIX, STANDING
from bot.storage.models import Attempt

__all__ = ["ENDED", "STANDING_ORDER", "real_players"]

# The one ordering for standings, ranks and `top` winners, built from rules.STANDING.
STANDING_ORDER = tuple(getattr(Attempt, name).desc() if direction == "desc" else getattr(Attempt, name).asc()
                       for name, direction in STANDING)


def real_players(column, testers=(), exclude=()):
    """A condition on an openid column: not a test account (rules.is_test_account), nor in `exclude`."""
    listed = sorted(set(testers) | set(exclude))
    simulator = func.substr(column, 1, len(SIMULATOR_PREFIX)) != SIMULATOR_PREFIX
    return and_(column.not_in(listed), simulator) if listed else simulator
