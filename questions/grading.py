"""Reading a follower's answer and grading it (pure functions)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from questions import fields
from questions.model import FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, Question

# What bank files accept for 对/错, plus what followers also type in the chat.
TRUE_WORDS = {w.casefold() for w in fields.TRUE_WORDS} | {"v", "对的", "正确的"}
FALSE_WORDS = {w.casefold() for w in fields.FALSE_WORDS} | {"错的", "不对", "错误的"}
# What people put around a choice: 选A, 答案A, 我选A, A项, A选项.
_CHOICE_NOISE = re.compile(r"^(我选择|我选|选择|答案是|答案|选)|(选项|项)$")
_SEPARATORS = re.compile(r"[\s,，、;；/|.。和与及+]+")
_TRAILING = "。.!！?？~～"


@dataclass(frozen=True)
class Parsed:
    """A recognised answer: the letters chosen, a truth value, or fill-in text."""

    letters: str = ""
    truth: bool | None = None
    text: str = ""  # a fill-in answer, folded for comparing
    typed: str = ""  # a fill-in answer as the follower typed it (trimmed), for showing

    def shown(self) -> str:
        """The answer as the follower sees it echoed: 对/错, the letters, or their own words."""
        if self.truth is not None:
            return "对" if self.truth else "错"
        return self.letters or self.typed or self.text


def fold(text: str) -> str:
    """Fold full-width forms, trim, and lower-case (how fill-in answers are compared)."""
    folded = fields.fold(text or "").strip(_TRAILING).strip()
    return " ".join(folded.split()).casefold()


def parse_answer(question: Question, text: str) -> Parsed | None:
    """Read an answer as typed; None when it is not a usable answer to this question."""
    raw = fold(text)
    if not raw:
        return None
    if question.qtype == JUDGE:
        word = raw.replace(" ", "")
        if word in TRUE_WORDS:
            return Parsed(truth=True)
        if word in FALSE_WORDS:
            return Parsed(truth=False)
        return None
    if question.qtype == FILL:
        typed = " ".join(fields.fold(text).strip(_TRAILING).split())
        return Parsed(text=raw, typed=typed) if len(raw) <= 200 else None
    core = _CHOICE_NOISE.sub("", raw.replace(" ", ""))
    letters = _SEPARATORS.sub("", core).upper()
    valid = LETTERS[: len(question.options)]
    if not letters or any(ch not in valid for ch in letters):
        return None
    chosen = "".join(sorted(set(letters)))
    if question.qtype == SINGLE and len(chosen) != 1:
        return None
    return Parsed(letters=chosen)


# A unit written right after the blank ("期限为____年") may be typed with the answer ("10年").
_UNIT_AFTER_BLANK = re.compile(r"(?:_{2,}|＿{2,}|（\s*）|\(\s*\))\s*([年月日天周个次项条种名元岁倍件部人%％])")


def accepted_texts(question: Question) -> set[str]:
    """Return the accepted fill-in answers, folded, with and without the unit after the blank."""
    texts = {fold(a).replace(" ", "") for a in question.answer}
    unit = _UNIT_AFTER_BLANK.search(question.stem)
    if unit:
        texts |= {t + fold(unit.group(1)) for t in texts}
    return texts


def grade(question: Question, parsed: Parsed, *, points: int, partial_credit: bool = False) -> tuple[bool, int]:
    """Return (correct, points awarded). A multiple choice is right only for exactly the right set.

    With partial_credit, a multiple-choice answer naming only right options (but not all)
    earns half the points, rounded down.
    """
    if question.qtype == JUDGE:
        correct = parsed.truth is not None and parsed.truth == bool(question.answer[0])
    elif question.qtype == FILL:
        correct = parsed.text.replace(" ", "") in accepted_texts(question)
    else:
        right = set(question.answer)
        chosen = set(parsed.letters)
        correct = chosen == right
        if not correct and partial_credit and question.qtype == MULTIPLE and chosen and chosen < right:
            return False, points // 2
    return correct, points if correct else 0
