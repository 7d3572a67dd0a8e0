"""Read the common part of Moodle's GIFT format; report everything else as unsupported, by line."""
from __future__ import annotations

import re
from dataclasses import dataclass

from questions.drafts import Draft
from questions.fields import clean_block
from questions.model import FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, Problem

SNIFF = re.compile(r"\{[^{}]*[=~][^{}]*\}|\{\s*(?:T|F|TRUE|FALSE)\s*(?:#[^{}]*)?\}|^\s*::|^\s*\$CATEGORY:",
                   re.MULTILINE)
_TITLE = re.compile(r"^\s*::(.*?)::", re.DOTALL)
_FORMAT = re.compile(r"^\s*\[(?:html|moodle|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_TRUE_FALSE = re.compile(r"^(T|F|TRUE|FALSE)$", re.IGNORECASE)
_ESCAPED = re.compile(r"\\([~=#{}:\\])")
_TAG = re.compile(r"<[^>]+>")
BLANK = "____"


@dataclass(frozen=True)
class _Choice:
    correct: bool
    weight: float | None
    text: str
    feedback: str


def looks_like_gift(text: str) -> bool:
    """Tell whether a text file is in GIFT format (answer braces, titles or categories)."""
    return bool(SNIFF.search(text))


def _unescape(text: str) -> str:
    return clean_block(_TAG.sub("", _ESCAPED.sub(r"\1", text.replace("\\n", "\n"))))


def _split_unescaped(text: str, marks: str) -> list[tuple[str, str]]:
    """Split at each unescaped mark character, returning (mark, text) pairs; the first mark is ""."""
    parts, mark, buffer, i = [], "", [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            buffer.append(text[i:i + 2])
            i += 2
            continue
        if char in marks:
            parts.append((mark, "".join(buffer)))
            mark, buffer = char, []
        else:
            buffer.append(char)
        i += 1
    parts.append((mark, "".join(buffer)))
    return parts


def _find_unescaped(text: str, char: str, start: int = 0) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == char:
            return i
        i += 1
    return -1


def _blocks(text: str) -> list[tuple[int, str]]:
    """Split into questions at blank lines, dropping // comments; each with its first line number."""
    blocks, lines, first = [], [], 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("//"):
            continue
        if not line.strip():
            if lines:
                blocks.append((first, "\n".join(lines)))
                lines = []
            continue
        if not lines:
            first = number
        lines.append(line)
    if lines:
        blocks.append((first, "\n".join(lines)))
    return blocks


def read_gift(text: str) -> list[Draft | Problem]:
    """Read multiple choice, true/false and short answer questions; report the rest by line."""
    items: list[Draft | Problem] = []
    category = ""
    for number, block in _blocks(text):
        if block.lstrip().startswith("$CATEGORY:"):
            first, _, block = block.partition("\n")
            category = first.split(":", 1)[1].strip().rstrip("/").split("/")[-1].replace("$course$", "")
            number += 1
            if not block.strip():
                continue
        items.append(_read_block(block, f"第{number}行", category))
    return items


def _unsupported(place: str, kind: str) -> Problem:
    return Problem("error", place, f"GIFT 的{kind}本系统不支持，请改成单选、多选、判断或填空题，或删掉这道题")


def _read_block(block: str, place: str, category: str) -> Draft | Problem:
    body = _TITLE.sub("", block, count=1)
    body = _FORMAT.sub("", body, count=1)
    open_at = _find_unescaped(body, "{")
    close_at = _find_unescaped(body, "}", open_at + 1) if open_at >= 0 else -1
    if open_at < 0 or close_at < 0:
        return _unsupported(place, "说明文字（没有 {…} 答案部分）")
    before, inside, after = body[:open_at], body[open_at + 1:close_at].strip(), body[close_at + 1:]
    if _find_unescaped(after, "{") >= 0:
        return Problem("error", place, "这里有两道题连在一起（出现了两个 {…}），GIFT 格式的题目之间要空一行")
    stem = _unescape(before + (BLANK + after if after.strip() else ""))
    general = ""
    general_at = inside.find("####")
    if general_at >= 0:
        inside, general = inside[:general_at].strip(), _unescape(inside[general_at + 4:])
    if not inside:
        return _unsupported(place, "问答题（{} 中没有答案）")
    if inside.startswith("#"):
        return _unsupported(place, "数值题（{#…}）")
    head, *feedbacks = [text for _, text in _split_unescaped(inside, "#")]
    if _TRUE_FALSE.match(head.strip()):
        truth = head.strip().upper().startswith("T")
        # Moodle shows the first feedback for a wrong answer and the second for a right one.
        right = feedbacks[1] if len(feedbacks) > 1 else ""
        return Draft(place=place, stem=stem, qtype=JUDGE, answer="对" if truth else "错",
                     explanation=general or _unescape(right), category=category)
    choices = _choices(inside)
    if choices is None or "->" in inside:
        return _unsupported(place, "配对题（{=… -> …}）" if "->" in inside else "这种答案写法")
    explanation = general or next((c.feedback for c in choices if c.correct and c.feedback), "")
    if all(c.correct for c in choices):
        accepted = [c.text for c in choices if c.weight in (None, 100)]
        return Draft(place=place, stem=stem, qtype=FILL, answer="|".join(accepted), explanation=explanation,
                     category=category)
    correct = "".join(letter for letter, c in zip(LETTERS, choices) if c.correct)
    return Draft(place=place, stem=stem, qtype=SINGLE if len(correct) == 1 else MULTIPLE,
                 options=[c.text for c in choices], answer=correct, explanation=explanation, category=category)


def _choices(inside: str) -> list[_Choice] | None:
    parts = _split_unescaped(inside, "=~")
    if parts[0][1].strip():
        return None
    choices = []
    for mark, raw in parts[1:]:
        raw = raw.strip()
        weight = None
        match = _WEIGHT.match(raw)
        if match:
            weight = float(match.group(1))
            raw = raw[match.end():]
        text, *feedback = [t for _, t in _split_unescaped(raw, "#")]
        correct = weight > 0 if weight is not None else mark == "="
        choices.append(_Choice(correct=correct, weight=weight, text=_unescape(text),
                               feedback=_unescape(feedback[0]) if feedback else ""))
    return choices
