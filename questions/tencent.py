"""Read 腾讯问卷 (wj.qq.com) exam text, in its English or its Chinese labels.

    世界知识产权日是每年的哪一天？[单选题][答案：A][分数：5]
    A. 4月26日
    B. 3月15日

    Which of these are intellectual property rights?[Multiple Choice][Answer: A, B][Score: 5][All]
    A. Patents
    B. Trademarks

After the stem come the type, the answer, the score and a scoring rule ([All], [Partial],
[ByBlank], [Manual]); a bracketed text after them is the question's description. Options
follow one a line as "A. …"; an explanation may come as [解析：…] or a "解析：" line. A
question's place is the line holding its labels.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from questions.drafts import Draft
from questions.exam_text import EXPLANATION, OPTION, QUESTION_START
from questions.fields import fold, join_lines, parse_type
from questions.model import CHOICE_TYPES, FILL, JUDGE, MULTIPLE, SINGLE, Problem

TYPE_LABELS = {
    "single choice": SINGLE, "multiple choice": MULTIPLE, "variable choice": MULTIPLE, "true/false": JUDGE,
    "true or false": JUDGE, "fill-in-blank": FILL, "fill in the blank": FILL, "single fill-in-blank": FILL,
    "dropdown": SINGLE, "单项填空题": FILL, "单行填空题": FILL, "下拉题": SINGLE,
}
# Labels of questions a chat cannot ask, with the Chinese name an organizer knows them by.
UNSUPPORTED_LABELS = {
    "essay": "简答题", "简答题": "简答题", "问答题": "简答题",
    "multiple fill-in-blank": "多项填空题", "多项填空题": "多项填空题", "多行填空题": "多项填空题",
}
_ENGLISH = ("single choice", "multiple choice", "variable choice", "true/false", "fill-in-blank", "essay",
            "multiple fill-in-blank")
_BRACKET = re.compile(r"[\[【]\s*([^\[\]【】]*?)\s*[\]】]")
_ANSWER = re.compile(r"^(?:answer|正确答案|答案)\s*[:：]\s*(.*)$", re.IGNORECASE)
_SCORE = re.compile(r"^(?:score|分数|分值)\s*[:：]\s*(.*)$", re.IGNORECASE)
_EXPLAIN = re.compile(r"^(?:explanation|analysis|答案解析|解析)\s*[:：]\s*(.*)$", re.IGNORECASE)
_RULES = frozenset(("all", "partial", "byblank", "manual", "全对得分", "全部答对得分", "部分得分", "部分答对得分",
                    "按空得分", "按空给分", "人工评分"))
_SNIFF = re.compile(r"[\]】]\s*[\[【]\s*(?:answer|score|正确答案|答案|分数|分值)\s*[:：]|[\[【]\s*(?:"
                    + "|".join(re.escape(label) for label in _ENGLISH) + r")\s*[\]】]", re.IGNORECASE)
_BLANK_PARTS = re.compile(r"[,，、;；]\s*(?=[0-9]+\s*[.．、])")
_BLANK_NUMBER = re.compile(r"^\s*[0-9]+\s*[.．、]\s*")
_DESCRIPTION = re.compile(r"^[(（](.*)[)）]$", re.DOTALL)
_LAST_BRACKET = re.compile(r"[\[【]\s*([^\[\]【】]+?)\s*[\]】]$")


def looks_like_tencent(text: str) -> bool:
    """Tell whether text is 腾讯问卷 exam text: a label followed by [答案：…] or [Score: …], or an English label."""
    return bool(_SNIFF.search(text))


def _value(content: str) -> str:
    return re.split(r"[:：]", content, maxsplit=1)[1].strip()


def type_of(label: str) -> str | None:
    """Return the type a 腾讯问卷 label names, or None when it names none this system reads."""
    key = " ".join(fold(label).split()).lower()
    return TYPE_LABELS.get(key) or parse_type(label)


@dataclass
class _Header:
    label: str = ""  # the type label as written
    qtype: str | None = ""  # "" when the line has no type label, None for a label this system does not know
    stem: str = ""
    answer: str = ""
    points: str = ""
    explanation: str = ""
    description: str = ""


def read_labels(line: str) -> _Header | None:
    """Take apart a line holding a type label and its [答案：…][分数：…], or None if it holds none."""
    header, stem_end, end = _Header(), None, 0
    for match in _BRACKET.finditer(line):
        content = match.group(1)
        key = " ".join(fold(content).split()).lower()
        answer, score, explain = (pattern.match(fold(content)) for pattern in (_ANSWER, _SCORE, _EXPLAIN))
        if answer:
            header.answer = _value(content)
        elif score:
            header.points = _value(content)
        elif explain:
            header.explanation = _value(content)
        elif not header.label and (type_of(content) or key in UNSUPPORTED_LABELS):
            header.label = content
            header.qtype = type_of(content) or ""
        elif key in _RULES:
            pass
        else:
            continue
        stem_end = match.start() if stem_end is None else stem_end
        end = match.end()
    if not (header.label or header.answer or header.points):
        return None
    stem = line[:stem_end].strip()
    unknown = _LAST_BRACKET.search(stem) if not header.label else None
    if unknown:
        # A bracket right before [答案：…] is where the type goes: one this system does not know.
        header.label, header.qtype, stem = unknown.group(1), None, stem[:unknown.start()].strip()
    numbered = QUESTION_START.match(stem)
    header.stem = numbered.group(1).strip() if numbered else stem
    rest = line[end:].strip()
    described = _DESCRIPTION.match(rest)
    header.description = described.group(1).strip() if described else rest
    return header


@dataclass
class _Open:
    number: int
    header: _Header
    stem: list[str] = field(default_factory=list)
    options: list[list[str]] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)

    @property
    def place(self) -> str:
        return f"第{self.number}行"

    @property
    def unsupported(self) -> str:
        return UNSUPPORTED_LABELS.get(" ".join(fold(self.header.label).split()).lower(), "")


def read_tencent(text: str) -> list[Draft | Problem]:
    """Read 腾讯问卷 questions; 简答题 and 多项填空题 are reported by line as not askable."""
    questions: list[_Open] = []
    current: _Open | None = None
    after_blank = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            after_blank = True
            continue
        header = read_labels(line)
        if header is not None:
            current = _Open(number=number, header=header)
            questions.append(current)
            after_blank = False
            continue
        if current is None:
            continue  # the survey's title and description
        option, explanation = OPTION.match(line), EXPLANATION.match(line)
        if explanation or (current.explanation and not after_blank):
            current.explanation.append(explanation.group(1) if explanation else line)
        elif option:
            current.options.append([option.group(3)])
        elif after_blank:
            continue
        elif current.options:
            current.options[-1].append(line)
        elif current.header.qtype in (*CHOICE_TYPES, JUDGE):
            current.options.append([line])
        else:
            current.stem.append(line)
    return [_item(question) for question in questions]


def _item(question: _Open) -> Draft | Problem:
    header = question.header
    if header.qtype is None:
        return Problem("error", question.place, f"腾讯问卷的题型「{header.label}」本系统不支持或无法识别，"
                                                "微信里只能答单选、多选、判断和填空题；请改成这四种题型之一"
                                                "（如 [单选题] 或 [Single Choice]），或删掉这道题")
    if question.unsupported == "简答题":
        return Problem("error", question.place, f"腾讯问卷的简答题（[{header.label}]）要人工评分，在微信里无法作答判分，"
                                                "本系统不支持；请改成单选、多选、判断或填空题，或删掉这道题")
    answer = header.answer
    blanks = [part for part in _BLANK_PARTS.split(answer) if part.strip()]
    if question.unsupported or (header.qtype == FILL and len(blanks) > 1):
        count = f"，答案有 {len(blanks)} 个空" if len(blanks) > 1 else ""
        return Problem("error", question.place, f"腾讯问卷的多项填空题（[{header.label}]{count}）本系统不支持，"
                                                "一道填空题只收一个答案；请拆成几道只有一个空的填空题，或删掉这道题")
    if header.qtype in CHOICE_TYPES and not any(join_lines(option) for option in question.options):
        return Problem("error", question.place, f"这道{header.qtype}题下面没有选项：腾讯问卷的写法是从题目的下一行起"
                                                "每行写一个选项，如「A. 4月26日」")
    if header.qtype == FILL:
        answer = _BLANK_NUMBER.sub("", answer)
    stem = join_lines([header.stem, *question.stem])
    return Draft(place=question.place, stem="\n".join(part for part in (stem, header.description) if part),
                 options=[join_lines(option) for option in question.options], answer=answer, qtype=header.qtype,
                 explanation=join_lines([header.explanation, *question.explanation]), points=header.points)
