"""A question as a file spells it (all text), and the rule that turns it into a Question."""
from __future__ import annotations

from dataclasses import dataclass, field

from questions.fields import (answer_tokens, clean_block, clean_inline, fill_answers, is_letter, parse_points,
                     parse_truth, parse_type)
from questions.model import CHOICE_TYPES, FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, Problem, Question


@dataclass
class Draft:
    """The fields of one question exactly as read, before any interpretation."""

    place: str
    stem: str = ""
    options: list[str] = field(default_factory=list)
    answer: str = ""
    qtype: str = ""  # as written; empty to infer it from the answer
    explanation: str = ""
    points: str = ""  # as written; empty for the default
    category: str = ""


def infer_type(options: list[str], answer: str) -> str:
    """Guess the type of a question whose file gives none, from its options and answer."""
    if options:
        if len(options) == 2 and all(parse_truth(o) is not None for o in options):
            return JUDGE
        tokens = answer_tokens(answer)
        return MULTIPLE if tokens and len(tokens) > 1 else SINGLE
    return JUDGE if parse_truth(answer) is not None else FILL


def read_answer(qtype: str, options: list[str], text: str) -> tuple:
    """Interpret an answer cell for a type; what cannot be understood is kept as written."""
    text = clean_inline(text)
    if qtype == FILL:
        return fill_answers(text)
    if not text:
        return ()
    if qtype in CHOICE_TYPES:
        return answer_tokens(text) or (text,)
    truth = parse_truth(text)
    if truth is None and options:
        tokens = answer_tokens(text)
        if tokens and len(tokens) == 1 and is_letter(tokens[0], len(options)):
            truth = parse_truth(options[LETTERS.index(tokens[0])])
    return (truth,) if truth is not None else (text,)


def build_question(draft: Draft, *, default_points: int) -> tuple[Question | None, list[Problem]]:
    """Turn a draft into a Question (even a faulty one, for the validators to judge)."""
    problems: list[Problem] = []
    options = [clean_inline(o) for o in draft.options]
    while options and not options[-1]:
        options.pop()
    if draft.qtype.strip():
        qtype = parse_type(draft.qtype)
        if qtype is None:
            return None, [Problem("error", draft.place,
                                  f"题型「{draft.qtype.strip()}」无法识别，请填写 单选、多选、判断 或 填空"
                                  "（也可留空，按答案自动判断）")]
    else:
        qtype = infer_type(options, draft.answer)
    points = default_points
    if draft.points.strip():
        parsed = parse_points(draft.points)
        if parsed is None:
            problems.append(Problem("error", draft.place,
                                    f"分值「{draft.points.strip()}」不是正整数，请填写如 5 的数字，或留空使用默认分值"))
        else:
            points = parsed
    answer = read_answer(qtype, options, draft.answer)
    if qtype == FILL and options:
        problems.append(Problem("warning", draft.place, "填空题不需要选项，导入时会忽略这些选项；"
                                                        "如果这是选择题，请把题型改为单选或多选"))
    if qtype in (JUDGE, FILL):
        options = []
    question = Question(qtype=qtype, stem=clean_block(draft.stem), options=tuple(options), answer=answer,
                        explanation=clean_block(draft.explanation), points=points,
                        category=clean_inline(draft.category))
    return question, problems
