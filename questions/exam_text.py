"""Read questions from plain text copied out of exam papers and 问卷星 (wjx.cn) exports."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from questions.drafts import Draft
from questions.fields import join_lines
from questions.model import LETTERS, Problem

_FW = {letter: chr(ord(letter) + 0xFEE0) for letter in LETTERS}  # A → Ａ
_LETTER = "A-HＡ-Ｈ"
_DIGITS = "0-9０-９"
_SEP = r"[.．、)）:：]"

QUESTION_START = re.compile(
    rf"^\s*(?:第\s*[{_DIGITS}]+\s*题\s*{_SEP}?|[{_DIGITS}]+\s*[.．、)）](?![{_DIGITS}])|[(（][{_DIGITS}]+[)）])\s*(.*)$")
OPTION = re.compile(rf"^\s*(?:([{_LETTER}])\s*{_SEP}|[(（]([{_LETTER}])[)）])\s*(.*)$")
BULLET_OPTION = re.compile(r"^\s*[○◯□☐●■◇◆]\s*(.*)$")
ANSWER = re.compile(r"^\s*(?:【\s*(?:正确|参考|标准)?答案\s*】|(?:正确|参考|标准)?答案\s*[:：]|正确选项\s*[:：])\s*(.*)$")
EXPLANATION = re.compile(r"^\s*(?:【\s*(?:答案|试题|题目)?解析\s*】|(?:答案|试题|题目)?解析\s*[:：])\s*(.*)$")
CATEGORY = re.compile(r"^\s*(?:【\s*分类\s*】|(?:题目)?分类\s*[:：])\s*(.*)$")
POINTS = re.compile(r"^\s*(?:【\s*分值\s*】|(?:分值|分数)\s*[:：])\s*(.*)$")
TYPE_LINE = re.compile(r"^\s*(?:【\s*题型\s*】|题型\s*[:：])\s*(.*)$")
SECTION = re.compile(r"^\s*(?:[一二三四五六七八九十]+\s*[、.．]|第[一二三四五六七八九十]+部分)\s*(.*)$")
SECTION_POINTS = re.compile(r"每(?:小)?题\s*([0-9０-９]+)\s*分")
TYPE_TAG = re.compile(r"\s*[\[【(（]\s*(单选题?|多选题?|判断题?|填空题?|单项选择题?|多项选择题?|不定项选择题?)\s*[\]】)）]\s*")
POINTS_TAG = re.compile(r"\s*[\[【(（]\s*([0-9０-９]+)\s*分\s*[\]】)）]\s*")
ANSWER_IN_STEM = re.compile(
    rf"[(（]\s*((?:[{_LETTER}][\s,，、]*)+|[√×✓✗✔✘对错]|正确|错误)\s*[)）]")
REQUIRED_MARK = re.compile(r"\s*\*\s*$")
# Section headings ("二、多项选择题（每题2分）") set the type of the questions under them.
SECTION_TYPES = ("多项选择", "多选", "不定项", "单项选择", "单选", "判断", "填空")


@dataclass
class _Open:
    """The question being read: its parts as lists of wrapped lines."""

    place: str
    qtype: str
    points: str
    stem: list[str] = field(default_factory=list)
    options: list[list[str]] = field(default_factory=list)
    answer: str = ""
    explanation: list[str] = field(default_factory=list)
    category: str = ""
    mode: str = "stem"  # which part a continuation line belongs to

    def draft(self) -> Draft:
        stem = join_lines(self.stem)
        qtype, points, answer = self.qtype, self.points, self.answer
        tag = TYPE_TAG.search(stem)
        if tag:
            qtype = tag.group(1)
            stem = TYPE_TAG.sub("", stem, count=1)
        tag = POINTS_TAG.search(stem)
        if tag:
            points = tag.group(1)
            stem = POINTS_TAG.sub("", stem, count=1)
        marked = None
        for marked in ANSWER_IN_STEM.finditer(stem):
            pass
        if marked:
            # The key printed in the stem must not reach players, whatever the answer line says.
            stem = stem[:marked.start()] + "（ ）" + stem[marked.end():]
            answer = answer or marked.group(1)
        stem = REQUIRED_MARK.sub("", stem)
        return Draft(place=self.place, stem=stem, options=[join_lines(o) for o in self.options], answer=answer,
                     qtype=qtype, explanation=join_lines(self.explanation), points=points, category=self.category)


def split_inline_options(letter: str, text: str) -> list[tuple[str, str]]:
    """Split "A. 10年  B. 20年  C. 50年" written on one line into its options."""
    parts = [(letter, text)]
    while parts[-1][0] != LETTERS[-1]:
        current, rest = parts[-1]
        following = LETTERS[LETTERS.index(current) + 1]
        match = re.search(rf"[ \t\u3000]+[{following}{_FW[following]}]\s*[.．、)）]\s*", rest)
        if not match:
            break
        parts[-1] = (current, rest[:match.start()])
        parts.append((following, rest[match.end():]))
    return parts


def split_option_block(text: str) -> list[str]:
    """Split options written together in one cell ("A.发明 B.实用新型", or one per line)."""
    options: list[list[str]] = []
    for line in text.splitlines():
        option = OPTION.match(line)
        if option:
            options += [[content] for _, content in
                        split_inline_options(_letter(option.group(1) or option.group(2)), option.group(3))]
        elif options:
            options[-1].append(line)
        elif line.strip():
            options.append([line])
    return [join_lines(parts) for parts in options]


def _letter(raw: str) -> str:
    return chr(ord(raw) - 0xFEE0) if raw not in LETTERS else raw


def read_exam_text(text: str) -> list[Draft | Problem]:
    """Read numbered questions with lettered options, answer and explanation lines."""
    items: list[Draft | Problem] = []
    current: _Open | None = None
    section_type, section_points = "", ""

    def close() -> None:
        nonlocal current
        if current is not None:
            items.append(current.draft())
        current = None

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        section = SECTION.match(line)
        if section and any(name in section.group(1) for name in (*SECTION_TYPES, "选择")):
            close()
            heading = section.group(1)
            section_type = next((name for name in SECTION_TYPES if name in heading), "")
            points = SECTION_POINTS.search(heading)
            section_points = points.group(1) if points else ""
            continue
        start = QUESTION_START.match(line)
        if start:
            close()
            current = _Open(place=f"第{number}行", qtype=section_type, points=section_points, stem=[start.group(1)])
            continue
        if current is None:
            continue
        _read_line(current, line, number, items)
    close()
    return items


def _read_line(current: _Open, line: str, number: int, items: list[Draft | Problem]) -> None:
    for pattern, mode in ((ANSWER, "answer"), (EXPLANATION, "explanation")):
        match = pattern.match(line)
        if match:
            current.mode = mode
            if mode == "answer":
                current.answer = match.group(1).strip()
            else:
                current.explanation.append(match.group(1))
            return
    for pattern, attribute in ((CATEGORY, "category"), (POINTS, "points"), (TYPE_LINE, "qtype")):
        match = pattern.match(line)
        if match:
            setattr(current, attribute, match.group(1).strip())
            return
    if current.mode != "explanation":
        option = OPTION.match(line)
        if option:
            raw = option.group(1) or option.group(2)
            for letter, content in split_inline_options(_letter(raw), option.group(3)):
                # Past H the validators report the count; there is no letter to expect.
                if len(current.options) < len(LETTERS) and letter != LETTERS[len(current.options)]:
                    expected = LETTERS[len(current.options)]
                    items.append(Problem("warning", f"第{number}行",
                                         f"选项字母不连续：这里应是 {expected}，写的是 {letter}；已按出现顺序当作选项{expected}"))
                current.options.append([content])
            current.mode = "option"
            return
        bullet = BULLET_OPTION.match(line)
        if bullet:
            current.options.append([bullet.group(1)])
            current.mode = "option"
            return
    if current.mode == "stem":
        current.stem.append(line)
    elif current.mode == "option":
        current.options[-1].append(line)
    else:
        current.explanation.append(line)
