"""Read 问卷星's JSONL: one question a line, as its API creates exams (create_survey_by_json).

    {"qtype":"问卷基础信息","title":"知识产权知识竞赛","atype":6}
    {"qtype":"考试单选","title":"…","select":["甲","乙"],"correctselect":["B"],"quizscore":"5","answeranalysis":"…"}

`correctselect` holds option letters (or option texts, or 对/错 for 考试判断, or the accepted
answers of 考试单项填空). The older field names `q_type` and `q_title`, and options written as
{"item_title": …, "item_correct": true}, are read too. A question's place is its line.
"""
from __future__ import annotations

import html
import json
import re

from questions.drafts import Draft
from questions.exam_text import OPTION
from questions.fields import answer_tokens, clean_inline, fold
from questions.model import CHOICE_TYPES, FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, Problem

QUESTION_TYPES = {"考试单选": SINGLE, "考试多选": MULTIPLE, "考试判断": JUDGE, "考试单项填空": FILL,
                  "单选": SINGLE, "下拉框": SINGLE, "多选": MULTIPLE, "判断": JUDGE, "单项填空": FILL}
# Lines that shape the survey and hold no question.
LAYOUT_TYPES = frozenset(("问卷基础信息", "分页栏", "段落说明", "知情同意书", "折叠栏目"))
ASKABLE = "考试单选、考试多选、考试判断和考试单项填空"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")
_CORRECT_KEYS = ("item_correct", "is_correct", "correct", "is_answer", "isanswer")


def looks_like_wjx_jsonl(text: str) -> bool:
    """Tell whether text is 问卷星 JSONL: its first line is a JSON object naming a qtype."""
    first = next((line for line in _LINE_BREAK.split(text) if line.strip()), "")
    if not first.lstrip().startswith("{"):
        return False
    record = _parse(first)
    return isinstance(record, dict) and ("qtype" in record or "q_type" in record)


def _parse(line: str):
    try:
        return json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: brackets nested past the parser's depth
        return None


def read_wjx_jsonl(text: str) -> list[Draft | Problem]:
    """Read each line as one question; say by line what cannot be read or asked."""
    items: list[Draft | Problem] = []
    for number, line in enumerate(_LINE_BREAK.split(text), 1):
        if line.strip():
            item = _read_line(line, f"第{number}行")
            if item is not None:
                items.append(item)
    return items


def _read_line(line: str, place: str) -> Draft | Problem | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        where = "写到行尾还没有结束" if exc.pos >= len(line.rstrip()) else f"第 {exc.colno} 个字符处有误"
        return Problem("error", place, f"这一行不是完整的 JSON（{where}）；问卷星 JSONL 每行是一道题的 {{…}}，"
                                       "请检查这一行是否被截断、多了换行或少了引号")
    except (ValueError, RecursionError):
        return Problem("error", place, "这一行的 JSON 无法读取（数字过长或括号嵌套过深），请检查这一行的内容")
    if not isinstance(record, dict):
        return Problem("error", place, "这一行不是一道题：问卷星 JSONL 每行应是一个 {…} 对象，"
                                       "如 {\"qtype\":\"考试单选\",\"title\":\"…\",\"select\":[…]}")
    raw_type = record.get("qtype", record.get("q_type"))
    if raw_type is None:
        return Problem("error", place, "这一行没有写题型（qtype），请写 \"qtype\":\"考试单选\" 等；"
                                       f"本系统能导入的题型：{ASKABLE}")
    name = _text(raw_type)
    if name in LAYOUT_TYPES:
        return None
    qtype = QUESTION_TYPES.get(name)
    if qtype is None:
        return Problem("error", place, f"题型「{name}」本系统不支持或无法识别：微信里只能答 {ASKABLE}，"
                                       "请改成其中之一，或删掉这一行")
    select = record.get("select", record.get("items", []))
    if select is None:
        select = []
    if not isinstance(select, list):
        return Problem("error", place, "select（选项）应是一个列表，如 \"select\":[\"4月26日\",\"3月15日\"]")
    written = [_option_text(item) for item in select]
    options = _unlettered(written)
    if qtype in CHOICE_TYPES and not any(options):
        return Problem("error", place, f"这道{name}题没有选项：请在 select 里写出选项，如 \"select\":[\"4月26日\",\"3月15日\"]")
    flagged = "".join(letter for letter, item in zip(LETTERS, select) if _flagged(item))
    answer = _answer(qtype, [options, written], record.get("correctselect")) or flagged
    return Draft(place=place, stem=_text(record.get("title", record.get("q_title", ""))), options=options,
                 answer=answer, qtype=qtype, explanation=_text(record.get("answeranalysis", "")),
                 points=_points(record.get("quizscore", record.get("score"))))


def _text(value) -> str:
    """Turn a JSON value into plain text: HTML line breaks kept, other tags dropped."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    return html.unescape(_TAG.sub("", _BR.sub("\n", value))).strip()


def _option_text(item) -> str:
    if isinstance(item, dict):
        return _text(item.get("item_title", item.get("title", item.get("text", ""))))
    return _text(item)


def _flagged(item) -> bool:
    return isinstance(item, dict) and any(item.get(key) in (True, 1, "1", "true", "True") for key in _CORRECT_KEYS)


def _unlettered(options: list[str]) -> list[str]:
    """Drop "A. " prefixes when every option carries its own letter in order (as the CLI templates write)."""
    matches = [OPTION.match(option) for option in options]
    if not options or not all(matches):
        return options
    if [fold(m.group(1) or m.group(2)) for m in matches] != list(LETTERS[:len(options)]):
        return options
    return [m.group(3) for m in matches]


def _answer(qtype: str, spellings: list[list[str]], value) -> str:
    """Spell correctselect as an answer cell: letters for choices, 对/错 as written, texts joined by |.

    An entry naming an option by its text, with or without its "A. ", becomes that option's letter.
    """
    if value is None:
        return ""
    entries = value if isinstance(value, list) else [value]
    texts = [text for text in (_text(entry) for entry in entries) if text]
    if qtype == FILL:
        return "|".join(texts)
    letter_of: dict[str, str] = {}
    for options in spellings:
        for letter, option in zip(LETTERS, options):
            letter_of.setdefault(clean_inline(option), letter)
    spelled = []
    for text in texts:
        tokens = answer_tokens(text)
        if tokens and all(token in LETTERS for token in tokens):
            spelled.append("".join(tokens))
        else:
            spelled.append(letter_of.get(clean_inline(text), text))
    return "".join(spelled) if all(s.isascii() and s.isalpha() for s in spelled) else "、".join(spelled)


def _points(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
