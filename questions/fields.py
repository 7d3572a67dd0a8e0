"""How each field of a bank file is read: text cleaning, type names, answers, points."""
from __future__ import annotations

import re
import unicodedata

from questions.model import FILL, JUDGE, LETTERS, MULTIPLE, SINGLE

TRUE_WORDS = frozenset({"对", "正确", "√", "✓", "✔", "T", "TRUE", "是", "Y", "YES", "真", "R", "RIGHT"})
FALSE_WORDS = frozenset({"错", "错误", "×", "✗", "✘", "X", "F", "FALSE", "否", "N", "NO", "假", "WRONG"})

TYPE_NAMES = {
    SINGLE: ("单选", "单选题", "单项选择", "单项选择题", "单选择题", "选择题", "SINGLE", "单"),
    MULTIPLE: ("多选", "多选题", "多项选择", "多项选择题", "多选择题", "不定项选择", "不定项选择题",
               "不定项", "MULTIPLE", "多"),
    JUDGE: ("判断", "判断题", "是非题", "对错题", "TRUEFALSE", "判"),
    FILL: ("填空", "填空题", "FILL", "填"),
}
_TYPE_LOOKUP = {name: qtype for qtype, names in TYPE_NAMES.items() for name in names}

_SPACE_RUN = re.compile(r"[ \t\u00a0\u3000]+")
_ANSWER_SEPARATORS = re.compile(r"[\s,，、;；/|．.]+")
_FILL_SEPARATORS = re.compile(r"\s*[|｜;；]\s*")
_CJK_END = re.compile(r"[\u3000-\u9fff\uff00-\uffef]$")
_CJK_START = re.compile(r"^[\u3000-\u9fff\uff00-\uffef]")
_POINTS = re.compile(r"^(\d+)(?:\.0+)?\s*分?$")


def fold(text: str) -> str:
    """Fold full-width letters, digits and punctuation to their half-width forms and trim."""
    return unicodedata.normalize("NFKC", text).strip()


def clean_inline(text: str) -> str:
    """Trim a one-line field, joining wrapped lines and collapsing stray spaces."""
    return join_lines(text.splitlines())


def clean_block(text: str) -> str:
    """Trim a multi-line field line by line, dropping empty lines but keeping the breaks."""
    lines = (_SPACE_RUN.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines: no space between Chinese text, one space between Latin words."""
    out = ""
    for raw in lines:
        line = _SPACE_RUN.sub(" ", raw).strip()
        if not line:
            continue
        if out and not (_CJK_END.search(out) or _CJK_START.search(line)):
            out += " "
        out += line
    return out


def parse_type(text: str) -> str | None:
    """Return the question type a type cell names ("单项选择题" → 单选), or None if unknown."""
    key = re.sub(r"[\s\[\]【】()（）]", "", fold(text)).upper()
    return _TYPE_LOOKUP.get(key)


def parse_truth(text: str) -> bool | None:
    """Return True/False for a true/false answer word (对/错, √/×, T/F ...), else None."""
    key = fold(text).upper().rstrip("。.")
    if key in TRUE_WORDS:
        return True
    if key in FALSE_WORDS:
        return False
    return None


def answer_tokens(text: str) -> tuple[str, ...] | None:
    """Split a choice answer ("AC", "A,C", "Ａ、Ｃ") into sorted distinct letters, or None."""
    compact = _ANSWER_SEPARATORS.sub("", fold(text)).upper()
    if not compact or not compact.isascii() or not compact.isalpha():
        return None
    return tuple(sorted(set(compact)))


def fill_answers(text: str) -> tuple[str, ...]:
    """Split the accepted answers of a fill-in question (separated by | or ；)."""
    return tuple(a for a in (clean_inline(p) for p in _FILL_SEPARATORS.split(text.strip())) if a)


def parse_points(text: str) -> int | None:
    """Return the points a cell gives ("5", "5.0", "5分"), or None if it is not a positive integer."""
    match = _POINTS.match(fold(text))
    if not match or int(match.group(1)) <= 0:
        return None
    return int(match.group(1))


def is_letter(token: str, option_count: int) -> bool:
    """Tell whether a token is the letter of one of the first `option_count` options."""
    return len(token) == 1 and token in LETTERS[:option_count]
