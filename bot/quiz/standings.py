"""The standing order as SQLAlchemy expressions, for the console and the exports (bot.quiz.rules.STANDING).

A player's standing is their best ended attempt (Attempt.best, kept by bot.quiz.writers.mark_best).
"""
from __future__ import annotations

from bot.quiz.rules import ENDED, STANDING
from bot.storage.models import Attempt

__all__ = ["ENDED", "STANDING_ORDER"]

# The one ordering for standings, ranks and `top` winners, built from rules.STANDING.
STANDING_ORDER = tuple(getattr(Attempt, name).desc() if direction == "desc" else getattr(Attempt, name).asc()
                       for name, direction in STANDING)
