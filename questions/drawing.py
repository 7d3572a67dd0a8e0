"""Drawing questions for an attempt and shuffling their options (pure functions)."""
from __future__ import annotations

import random
from dataclasses import dataclass, replace

from questions.model import CHOICE_TYPES, LETTERS, Question


@dataclass(frozen=True)
class Candidate:
    """A question in the pool, by id, with what drawing by type or category needs."""

    id: int
    qtype: str
    category: str = ""


def _take(pool: list[Candidate], count: int, seen: set[int], rng: random.Random,
          taken: set[int]) -> list[Candidate]:
    """Take up to count from pool, unseen questions first, never one already taken."""
    fresh = [c for c in pool if c.id not in seen and c.id not in taken]
    stale = [c for c in pool if c.id in seen and c.id not in taken]
    rng.shuffle(fresh)
    rng.shuffle(stale)
    return (fresh + stale)[:count]


def draw(pool: list[Candidate], *, count: int, rng: random.Random, seen: set[int] = frozenset(),
         by_type: dict[str, int] | None = None, by_category: dict[str, int] | None = None) -> list[int]:
    """Pick `count` distinct question ids, preferring ones this player has not seen.

    With by_type or by_category, take that many of each group first; a group with too few
    questions is topped up from the rest of the pool so the attempt still has `count`.
    """
    taken: set[int] = set()
    picked: list[Candidate] = []
    quotas = [(lambda c, t=t: c.qtype == t, n) for t, n in (by_type or {}).items()]
    quotas += [(lambda c, k=k: c.category == k, n) for k, n in (by_category or {}).items()]
    for belongs, n in quotas:
        room = count - len(picked)
        group = [c for c in pool if belongs(c)]
        for c in _take(group, min(n, room), seen, rng, taken):
            taken.add(c.id)
            picked.append(c)
    for c in _take(pool, count - len(picked), seen, rng, taken):
        taken.add(c.id)
        picked.append(c)
    if quotas:
        # Quota groups were filled in config order; mix them so types are not in blocks.
        rng.shuffle(picked)
    return [c.id for c in picked]


def shuffle_options(question: Question, rng: random.Random) -> tuple[Question, list[int]]:
    """Shuffle a choice question's options; return the shown question and shown->original order."""
    if question.qtype not in CHOICE_TYPES or len(question.options) < 2:
        return question, list(range(len(question.options)))
    order = list(range(len(question.options)))
    rng.shuffle(order)
    options = tuple(question.options[i] for i in order)
    original_correct = {LETTERS.index(letter) for letter in question.answer}
    answer = tuple(LETTERS[shown] for shown, orig in enumerate(order) if orig in original_correct)
    return replace(question, options=options, answer=answer), order


def to_original_letters(letters: str, order: list[int]) -> str:
    """Map letters as shown back to the bank's original letters (for statistics)."""
    return "".join(sorted(LETTERS[order[LETTERS.index(ch)]] for ch in letters if ch in LETTERS[: len(order)]))
