"""Rendering questions, feedback and results as chat text (pure functions)."""
from __future__ import annotations

from questions.grading import Parsed
from questions.model import FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, Question

REPLY_LIMIT_BYTES = 2000

HINTS = {
    SINGLE: "请回复一个选项字母，如 A",
    MULTIPLE: "多选题，请回复全部正确选项的字母，如 AC",
    JUDGE: "请回复“对”或“错”",
    FILL: "请直接回复答案",
}


def render_question(question: Question, index: int, total: int, seconds: int = 0) -> str:
    """Render question `index` (1-based) of `total` as the follower sees it, with its time limit if any."""
    limit = f"（限时{seconds}秒）" if seconds else ""
    lines = [f"第{index}/{total}题【{question.qtype}】{limit}", question.stem]
    lines += [f"{LETTERS[i]}. {option}" for i, option in enumerate(question.options)]
    lines.append(f"（{HINTS[question.qtype]}）")
    return "\n".join(lines)


def correct_answer_text(question: Question) -> str:
    """Say what the right answer is, in the shown letters."""
    if question.qtype == JUDGE:
        return "对" if question.answer[0] else "错"
    if question.qtype == FILL:
        return " 或 ".join(str(a) for a in question.answer)
    return "".join(question.answer)


def render_feedback(question: Question, parsed: Parsed, *, correct: bool, points: int,
                    explanation_budget: int = 600) -> str:
    """Say whether an answer was right, the right answer and the explanation."""
    if correct:
        head = f"✅ 回答正确！+{points}分"
    elif points:
        head = f"◐ 部分正确（你的答案 {parsed.shown()}），+{points}分。正确答案：{correct_answer_text(question)}"
    else:
        head = f"❌ 回答错误（你的答案 {parsed.shown()}）。正确答案：{correct_answer_text(question)}"
    explanation = question.explanation.strip()
    if not explanation:
        return head
    return head + "\n解析：" + clip(explanation, explanation_budget)


def clip(text: str, budget_bytes: int) -> str:
    """Cut text to a byte budget on a character boundary."""
    data = text.encode("utf-8")
    if len(data) <= budget_bytes:
        return text
    return data[: max(budget_bytes - 3, 0)].decode("utf-8", "ignore") + "…"


def join_within_limit(first: str, second: str, limit: int = REPLY_LIMIT_BYTES) -> str:
    """Join feedback and the next question, shortening the feedback if both do not fit."""
    joined = f"{first}\n\n{second}"
    if len(joined.encode("utf-8")) <= limit:
        return joined
    room = limit - len(second.encode("utf-8")) - 2
    return f"{clip(first, room)}\n\n{second}"


def format_duration(seconds: int) -> str:
    """Say a duration the way a person would: 5分12秒."""
    minutes, secs = divmod(max(int(seconds), 0), 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours}小时{minutes}分{secs}秒"
    return f"{minutes}分{secs}秒" if minutes else f"{secs}秒"
