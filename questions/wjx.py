"""Read the text 问卷星 (wjx.cn) works with: its exam batch-add format, its survey text, and a paper pasted back.

The batch-add format and the survey text share one shape: "1. 题干[单选题]", one option a line
without letters, a blank line between questions, "=== 分页 ===" between pages. The batch format
adds the answer in brackets after the stem ("(B)", "（AC）", "(对)", the answer text of a fill-in)
and the points ("(2分)"); a survey text has no answer anywhere. A paper or answer key pasted back
("1.题干()[单选题]*", then "A.甲 B.乙(正确答案)") marks the right options inline.

A question's place is the line holding its number, type label and answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from questions.drafts import Draft
from questions.exam_text import ANSWER, BULLET_OPTION, EXPLANATION, OPTION, QUESTION_START, split_inline_options
from questions.fields import answer_tokens, fold, join_lines, parse_truth, parse_type
from questions.model import CHOICE_TYPES, FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, TYPES, Problem
from questions.validators import FILE_PLACE

# The DSL's own names; 简答题 and 问答题 are its aliases of 填空题 (one text box).
_LABELS = {"单选题": SINGLE, "下拉框": SINGLE, "下拉单选": SINGLE, "多选题": MULTIPLE, "判断题": JUDGE,
           "填空题": FILL, "简答题": FILL, "问答题": FILL}
UNSUPPORTED_LABELS = frozenset((
    "排序题", "量表题", "评分单选", "评分多选", "比重题", "滑动条", "多项填空题", "考试多项填空", "考试完形填空",
    "完形填空", "矩阵题", "矩阵量表题", "矩阵单选题", "矩阵多选题", "矩阵填空题", "矩阵滑动条", "矩阵数值题",
    "表格填空题", "表格下拉框", "表格组合题", "表格自增题", "多项文件题", "多项简答题", "文件上传", "绘图题",
    "段落说明", "多级下拉题", "商品题", "情景题", "分页栏",
))
_TAG = re.compile(r"[\[【]\s*([^\[\]【】]{1,12}?)\s*[\]】]")
_POINTS = re.compile(r"\s*[(（\[【]\s*([0-9０-９]+(?:[.．][0-9０-９]+)?)\s*分\s*[)）\]】]")
_OPTIONAL = re.compile(r"\s*[(（]\s*选填\s*[)）]")
_SCORING = re.compile(r"\s*[(（]\s*(?:系统|人工)评分\s*[)）]")
_REQUIRED = re.compile(r"\s*[*＊]\s*$")
_ANSWER_AT_END = re.compile(r"[(（]([^()（）]*)[)）]\s*([。．.？?！!；;]?)\s*$")
_BRACKETS = re.compile(r"[(（]([^()（）]*)[)）]")
_EMPTY_AT_END = re.compile(r"\s*[(（]\s*[)）]\s*$")
PAGE_BREAK = re.compile(r"^\s*=+\s*分页\s*=+\s*$")
KEY_MARK = re.compile(r"\s*[(（【\[]\s*正确答案\s*[)）】\]]")


def label_type(label: str) -> str | None:
    """Return the question type a 问卷星 label names, or None for one this system cannot ask."""
    name = label.strip()
    if name in UNSUPPORTED_LABELS:
        return None
    return _LABELS.get(name) or parse_type(name)


def _is_label(label: str) -> bool:
    return label.strip() in UNSUPPORTED_LABELS or label_type(label) is not None


def unsupported(place: str, label: str) -> Problem:
    """Report a question of a 问卷星 type the chat cannot ask."""
    return Problem("error", place, f"问卷星的「{label}」本系统不支持（微信里只能答单选、多选、判断和填空题），"
                                   "请改成这四种题型之一，或删掉这道题")


@dataclass(frozen=True)
class Header:
    """A numbered stem line, taken apart: the label, the answer in brackets and the points."""

    label: str  # as written; "" when the line has none
    qtype: str | None  # "" when there is no label; None for an unsupported label
    stem: str
    answer: str
    points: str


def read_header(body: str) -> Header:
    """Take apart the text after a question number ("题干(B) [单选题] (2分)")."""
    tag = None
    for match in _TAG.finditer(body):
        if _is_label(match.group(1)):
            tag = match
    label = tag.group(1).strip() if tag else ""
    qtype = label_type(label) if tag else ""
    before, after = (body[:tag.start()], body[tag.end():]) if tag else (body, "")
    points = next((m.group(1) for m in (_POINTS.search(before), _POINTS.search(after)) if m), "")
    before, after = (_REQUIRED.sub("", _SCORING.sub("", _OPTIONAL.sub("", _POINTS.sub("", part)))).strip()
                     for part in (before, after))
    if not before:
        before, after = after, ""  # the label written first: "[单选题] 题干(B)"
    stem, answer = _split_answer(before, qtype)
    stem = _EMPTY_AT_END.sub("", stem)
    return Header(label=label, qtype=qtype, stem=join_lines([stem, after]), answer=answer, points=points)


def _split_answer(stem: str, qtype: str | None) -> tuple[str, str]:
    """Take the answer out of its brackets after the stem, or, for letters and 对/错, out of the blank."""
    match = _ANSWER_AT_END.search(stem)
    if match and _can_answer(match.group(1).strip(), qtype):
        # At the very end the brackets only carry the answer; before a full stop they are the blank.
        blank = "（ ）" + match.group(2) if match.group(2) else ""
        return (stem[:match.start()] + blank).strip(), match.group(1).strip()
    if qtype == FILL:
        return stem, ""  # a fill-in's answer is any text: only the brackets at the end can be sure to hold it
    inside = [m for m in _BRACKETS.finditer(stem) if _can_answer(m.group(1).strip(), qtype)]
    if not inside:
        return stem, ""
    return (stem[:inside[-1].start()] + "（ ）" + stem[inside[-1].end():]).strip(), inside[-1].group(1).strip()


def _letters(text: str) -> bool:
    tokens = answer_tokens(text)
    return bool(tokens) and all(token in LETTERS for token in tokens)


def _can_answer(text: str, qtype: str | None) -> bool:
    if not text or qtype is None:
        return False
    if qtype == FILL:
        return True
    if qtype == JUDGE:
        return parse_truth(text) is not None or _letters(text)
    return _letters(text)


@dataclass
class _Open:
    """The question being read."""

    number: int
    header: Header
    stem: list[str] = field(default_factory=list)
    options: list[list[str]] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    mode: str = "option"  # what a continuation line belongs to
    marked: list[str] = field(default_factory=list)  # letters marked 正确答案 (pasted papers)
    answer_line: str = ""

    @property
    def place(self) -> str:
        return f"第{self.number}行"

    def draft(self, qtype: str) -> Draft:
        header = self.header
        answer = "".join(self.marked) or self.answer_line or header.answer
        return Draft(place=self.place, stem=join_lines([header.stem, *self.stem]),
                     options=[join_lines(option) for option in self.options], answer=answer, qtype=qtype,
                     explanation=join_lines(self.explanation), points=header.points)


def looks_like_wjx_text(text: str) -> bool:
    """Tell whether text is 问卷星's survey text or batch-add format.

    A numbered stem must carry a 问卷星 type label and be followed by an option line without a
    letter, or the text must hold a "=== 分页 ===" line; no line may be a lettered or bulleted
    option or an answer line, which the exam-paper reader handles.
    """
    lines = text.splitlines()
    found = False
    for index, line in enumerate(lines):
        if OPTION.match(line) or BULLET_OPTION.match(line) or ANSWER.match(line):
            return False
        if PAGE_BREAK.match(line):
            found = True
        start = QUESTION_START.match(line)
        if start and any(_is_label(m.group(1)) for m in _TAG.finditer(start.group(1))):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            if following.strip() and not (QUESTION_START.match(following) or EXPLANATION.match(following)):
                found = True
    return found


def read_wjx_text(text: str) -> list[Draft | Problem]:
    """Read 问卷星's batch-add format; a survey text (no answer anywhere) is reported in one message."""
    items: list[_Open] = []
    current: _Open | None = None
    after_blank = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or PAGE_BREAK.match(line):
            after_blank = True
            continue
        start = QUESTION_START.match(line)
        if start:
            current = _Open(number=number, header=read_header(start.group(1)))
            items.append(current)
            after_blank = False
            continue
        if current is None:
            continue  # the survey's title and description
        explanation = EXPLANATION.match(line)
        if explanation:
            current.explanation.append(explanation.group(1))
            current.mode = "explanation"
        elif current.mode == "explanation" and not after_blank:
            current.explanation.append(line)
        elif not after_blank or (not current.options and current.header.qtype in (*CHOICE_TYPES, "")):
            # After a blank line un-numbered text is a 段落说明, unless a choice is still waiting for options.
            current.options.append([line])
    questions = [item for item in items if item.header.qtype is not None]
    if questions and not _answered(questions):
        return [survey_text_problem(questions)] + [unsupported(item.place, item.header.label) for item in items
                                                   if item.header.qtype is None]
    # 问卷星 asks an unlabelled question as 单选题.
    return [_item(item, SINGLE if item.header.qtype == "" else item.header.qtype) for item in items]


_BATCH_OPTIONS = "问卷星的写法是从题干的下一行起每行写一个选项（不写字母），题与题之间空一行"
_KEY_OPTIONS = "请在题干下面写出选项，如「A.发明 B.实用新型」"


def _item(question: _Open, qtype: str | None, how: str = _BATCH_OPTIONS) -> Draft | Problem:
    if qtype is None:
        return unsupported(question.place, question.header.label)
    if qtype in CHOICE_TYPES and not any(join_lines(option) for option in question.options):
        # Without options the validators would name letters that do not exist.
        return Problem("error", question.place, f"这道{qtype}题下面没有选项：{how}")
    return question.draft(qtype)


def _answered(questions: list[_Open]) -> bool:
    """Tell whether any question carries an answer; brackets on a fill-in count only without choices."""
    choices = [q for q in questions if q.header.qtype != FILL]
    return any(q.header.answer for q in (choices or questions))


def survey_text_problem(questions: list[_Open]) -> Problem:
    """Say once that a 问卷星 survey text has no answers, what was read, and how to add them."""
    by_type: dict[str, list[int]] = {}
    for question in questions:
        by_type.setdefault(question.header.qtype or SINGLE, []).append(len(question.options))
    parts = []
    for qtype in TYPES:
        counts = by_type.get(qtype)
        if counts:
            parts.append(f"{qtype} {len(counts)} 道" + (_option_counts(counts) if qtype in CHOICE_TYPES else ""))
    return Problem("error", FILE_PLACE,
                   f"这是问卷星问卷文本（「1. 题目[单选题]」下每行一个选项），读到 {len(questions)} 道题："
                   f"{'、'.join(parts)}；问卷文本里没有正确答案，这些题都不能导入。请补上答案："
                   "按问卷星考试「批量添加题目」的写法，把答案写在题干后的括号里，"
                   "如「1. 世界知识产权日是每年的哪一天？(A) [单选题] (2分)」，多选题写 (AC)，"
                   "判断题写 (对) 或 (错)，填空题写答案文字，如 (12330)；"
                   "也可以用题库模板（后台“题库”页下载，或 questions template 命令生成）填写")


def _option_counts(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    if low != high:
        return f"（{low}–{high} 个选项）"
    return f"（各 {low} 个选项）" if len(counts) > 1 else f"（{low} 个选项）"


def looks_like_wjx_key(text: str) -> bool:
    """Tell whether text is a 问卷星 paper pasted back with the right options marked (正确答案)."""
    return any(KEY_MARK.search(line) and OPTION.match(line) for line in text.splitlines())


def read_wjx_key(text: str) -> list[Draft | Problem]:
    """Read a pasted-back paper: lettered options, several to a line, the right ones marked inline."""
    items: list[_Open] = []
    current: _Open | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or PAGE_BREAK.match(line):
            continue
        start = QUESTION_START.match(line)
        if start:
            current = _Open(number=number, header=read_header(start.group(1)), mode="stem")
            items.append(current)
            continue
        if current is not None:
            _read_key_line(current, line)
    return [_item(item, item.header.qtype, _KEY_OPTIONS) for item in items]


def _read_key_line(current: _Open, line: str) -> None:
    answer = ANSWER.match(line)
    if answer:
        current.answer_line = answer.group(1).strip()
        current.mode = "answer"
        return
    explanation = EXPLANATION.match(line)
    if explanation:
        current.explanation.append(explanation.group(1))
        current.mode = "explanation"
        return
    option = OPTION.match(line)
    if option and current.mode != "explanation":
        for _, content in split_inline_options(fold(option.group(1) or option.group(2)), option.group(3)):
            # Letters are counted, not read: past H the validators report the count.
            if KEY_MARK.search(content) and len(current.options) < len(LETTERS):
                current.marked.append(LETTERS[len(current.options)])
            current.options.append([KEY_MARK.sub("", content)])
        current.mode = "option"
        return
    if current.mode == "stem":
        current.stem.append(line)
    elif current.mode == "option":
        current.options[-1].append(line)
    elif current.mode == "explanation":
        current.explanation.append(line)

