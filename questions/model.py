"""The question as every importer produces it and every quiz rule consumes it."""
from __future__ import annotations

from dataclasses import dataclass, field

SINGLE = "单选"
MULTIPLE = "多选"
JUDGE = "判断"
FILL = "填空"
TYPES = (SINGLE, MULTIPLE, JUDGE, FILL)
CHOICE_TYPES = (SINGLE, MULTIPLE)

LETTERS = "ABCDEFGH"
MAX_OPTIONS = len(LETTERS)


@dataclass(frozen=True)
class Question:
    """One question.

    `answer` holds, by type: choice types, the correct letters ("A", "AC") as a tuple of
    single letters in order; 判断, (True,) or (False,); 填空, the accepted answer texts.
    `options` is empty for 判断 and 填空.
    """

    qtype: str
    stem: str
    options: tuple[str, ...]
    answer: tuple
    explanation: str = ""
    points: int | None = None  # None: the config's default
    category: str = ""

    def key(self) -> tuple:
        """Return what makes two questions duplicates: the same stem and options."""
        return (" ".join(self.stem.split()), tuple(" ".join(o.split()) for o in self.options))


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a bank file, with its place and what to do about it."""

    level: str  # "error" or "warning"
    place: str  # e.g. "题目!第5行" or "第12行"
    message: str  # Chinese, says what is wrong and how to fix it


@dataclass
class BankReport:
    """What reading a bank file produced: the questions and the problems found."""

    source: str
    questions: list[Question] = field(default_factory=list)
    places: list[str] = field(default_factory=list)  # place of each question, same order
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors
