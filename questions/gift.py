"""Read Moodle's GIFT format the way Moodle's own importer (question/format/gift/format.php) reads it.

Multiple choice, true/false and short answer become 单选 or 多选, 判断 and 填空; the GIFT types the
quiz cannot ask (description, essay, numerical, matching) are reported by line.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

from questions.drafts import Draft
from questions.fields import clean_block
from questions.model import FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, Problem

SNIFF = re.compile(r"\{[^{}]*[=~][^{}]*\}|\{\s*(?:T|F|TRUE|FALSE)\s*(?:#[^{}]*)?\}|^\s*::|^\s*\$CATEGORY:",
                   re.MULTILINE)
BLANK = "____"

# Moodle swaps each escape for a placeholder before it parses, and swaps the characters back into
# each part afterwards (escapedchar_pre / escapedchar_post); private-use characters are the placeholders.
_ESCAPE = re.compile(r"\\([\\:#={}~n])")
_HELD = {char: chr(0xE000 + i) for i, char in enumerate(":#={}~n")}
_HOLE = chr(0xE0FF)  # where the answer braces stood inside the question text
_RESTORE = str.maketrans({held: "\n" if char == "n" else char for char, held in _HELD.items()} | {_HOLE: BLANK})
_FORMAT = re.compile(r"^\[(moodle|html|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d*)?)%")
_TRUE_FALSE = ("T", "TRUE", "F", "FALSE")
_CATEGORY = "$CATEGORY:"

_BREAK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h[1-6])\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>", re.DOTALL)
_MARKDOWN = re.compile(r"(\*\*|__|`)(?=\S)(.+?)(?<=\S)\1")
_VERDICT = re.compile(
    r"^(?:(?:恭喜你?)?(?:回答|答|选)?(?:完全)?(?:正确|不正确|不对|错误|对|错)了?|很好|太棒了|真棒|不错"
    r"|correct|incorrect|right|that'?s right|wrong|yes|no|well done|very good|good job|excellent(?: answer)?|great)"
    r"(?:[!！。.，,;；:：~～]+\s*|$)", re.IGNORECASE)


@dataclass(frozen=True)
class _Answer:
    weight: float  # Moodle's fraction of the marks: 1.0 full marks, 0 none, below 0 a penalty
    text: str
    feedback: str


def looks_like_gift(text: str) -> bool:
    """Tell whether a text file is in GIFT format (answer braces, titles or categories)."""
    return bool(SNIFF.search(text))


def read_gift(text: str) -> list[Draft | Problem]:
    """Read multiple choice, true/false and short answer questions; report the rest by line."""
    items: list[Draft | Problem] = []
    category = ""
    for lines in _blocks(text):
        if lines[0][1].startswith(_CATEGORY):
            # Moodle gives a category a block of its own; a question right below the line is read too.
            category = _category(_hold_escapes(lines.pop(0)[1][len(_CATEGORY):]))
            if not lines:
                continue
        block = _hold_escapes("\n".join(line for _, line in lines))
        items += _read_block(block, f"第{lines[0][0]}行", category)
    return items


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Split into questions at blank lines, each a list of (line number, trimmed line); // comment lines are dropped."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            if blocks[-1]:
                blocks.append([])
        elif not line.startswith("//"):
            blocks[-1].append((number, line))
    return [block for block in blocks if block]


def _hold_escapes(text: str) -> str:
    """Hide escaped control characters from the parser; an escaped backslash is one backslash."""
    return _ESCAPE.sub(lambda m: "\\" if m.group(1) == "\\" else _HELD[m.group(1)], text)


def _format_of(text: str, default: str) -> tuple[str, str]:
    """Split a leading [html], [plain], [markdown] or [moodle] off a part, as Moodle's parse_text_with_format does.

    Moodle matches the names in lower case only; an upper-case [HTML] means the same to whoever wrote it.
    """
    text = text.strip()
    match = _FORMAT.match(text)
    return (match.group(1).lower(), text[match.end():]) if match else (default, text)


def _shown(text: str, text_format: str) -> str:
    """Render a part as a player sees it in the chat: escapes read, markup removed."""
    if text_format != "plain":  # plain text is shown as written; the other formats may hold HTML
        if text_format == "markdown":
            text = _MARKDOWN.sub(r"\2", text)
        text = html.unescape(_TAG.sub("", _BREAK_TAG.sub("\n", text)))
    return clean_block(text.translate(_RESTORE))


def _part(text: str, default_format: str) -> str:
    """Render an answer or a feedback, which may carry a format of its own."""
    return _shown(*reversed(_format_of(text, default_format)))


def _category(path: str) -> str:
    """Name the category a $CATEGORY: path ends in: "$course$/top/专利" → "专利", "$course$/top" → ""."""
    names = [name.strip().replace("\0", "/") for name in path.replace("//", "\0").split("/")]  # "//" is a "/"
    names = [name for name in names if name]
    if names and re.fullmatch(r"\$[a-z]+\$", names[0]):  # the context: $course$, $system$ ...
        names.pop(0)
    if names and names[0] == "top":
        names.pop(0)
    return _shown(names[-1], "plain") if names else ""


def _unsupported(place: str, kind: str) -> Problem:
    return Problem("error", place, f"GIFT 的{kind}本系统不支持，请改成单选、多选、判断或填空题，或删掉这道题")


def _brace_missing(place: str, brace: str) -> Problem:
    return Problem("error", place, f"缺少{brace}：GIFT 的答案要写在一对 {{…}} 里；"
                                   "题目里要显示花括号时，请写成 \\{ 和 \\}")


def _read_block(text: str, place: str, category: str) -> list[Draft | Problem]:
    if text.startswith("::"):
        text = text[2:]
        end = text.find("::")
        if end >= 0:
            text = text[end + 2:].strip()  # the title names the question in Moodle's bank; players never see it
    open_at, close_at = text.find("{"), text.find("}")
    if open_at < 0 and close_at < 0:
        return [_unsupported(place, "说明文字（没有 {…} 答案部分）")]
    if open_at < 0 or 0 <= close_at < open_at:
        return [_brace_missing(place, "左花括号「{」")]
    if close_at < 0:
        return [_brace_missing(place, "右花括号「}」")]
    before, inside, after = text[:open_at], text[open_at + 1:close_at].strip(), text[close_at + 1:]
    if "{" in after:
        return [Problem("error", place, "这里有两道题连在一起（出现了两个 {…}），GIFT 格式的题目之间要空一行")]
    # Answers before closing punctuation leave a blank in the sentence; answers at the end leave none.
    text_format, question_text = _format_of(before + _HOLE + after if after.strip() else before, "moodle")
    general = ""
    general_at = inside.rfind("####")
    if general_at >= 0:
        general = _part(inside[general_at + 4:], text_format)
        inside = inside[:general_at].strip()
    draft = Draft(place=place, stem=_shown(question_text, text_format), category=category, explanation=general)
    # Moodle decides the type in this order (readquestion).
    if not inside:
        return [_unsupported(place, "问答题（{} 中没有答案）")]
    if inside.startswith("#"):
        return [_unsupported(place, "数值题（{#…}）")]
    if "~" in inside:
        return _choice(draft, inside, text_format)
    if "=" in inside and "->" in inside:
        return [_unsupported(place, "配对题（{=… -> …}）")]
    if inside.split("#", 1)[0].strip().upper() in _TRUE_FALSE:
        # Moodle matches T, TRUE, F and FALSE in upper case only; a lower-case {true} means the same to its author.
        return [_true_false(draft, inside, text_format)]
    return _short_answer(draft, inside, text_format)


def _split(inside: str, marks: str) -> list[tuple[str, str]]:
    """Split at each mark into (mark, text), as Moodle's explode; text before the first mark counts unless empty."""
    parts, mark, start = [], "", 0
    for at, char in enumerate(inside):
        if char in marks:
            parts.append((mark, inside[start:at]))
            mark, start = char, at + 1
    parts.append((mark, inside[start:]))
    return parts if parts[0][1].strip() else parts[1:]


def _answers(parts: list[tuple[str, str]], text_format: str, *, unweighted: float) -> list[_Answer]:
    """Read each answer's weight (%50%, or full marks after "="), text and #feedback."""
    answers = []
    for mark, raw in parts:
        raw = raw.strip()
        match = _WEIGHT.match(raw)
        weight = float(match.group(1)) / 100 if match else 1.0 if mark == "=" else unweighted
        text, _, feedback = raw[match.end() if match else 0:].partition("#")
        answers.append(_Answer(weight=weight, text=_part(text, text_format), feedback=_part(feedback, text_format)))
    return answers


def _choice(draft: Draft, inside: str, text_format: str) -> list[Draft | Problem]:
    """Read a multiple choice: with an "=" Moodle makes it single-answer, without one multiple-answer."""
    place = draft.place
    parts = _split(inside, "=~")
    misplaced = next((_WEIGHT.match(raw.strip()) for mark, raw in parts if mark == "=" and _WEIGHT.match(raw.strip())),
                     None)
    if misplaced:
        # Moodle gives an "=" choice full marks and keeps "%50%" as part of the option's text.
        return [Problem("error", place, f"选择题里「={misplaced.group(0)}」的权重不起作用：= 标出的选项总是满分，"
                                        f"部分得分的选项要写成「~{misplaced.group(0)}选项」，正确答案只写 =")]
    answers = _answers(parts, text_format, unweighted=0.0)
    lettered = list(zip(LETTERS, answers))
    problems: list[Draft | Problem] = []
    if "=" in inside:
        correct = [letter for letter, a in lettered if a.weight >= 1]
        if len(correct) > 1:
            return [Problem("error", place, f"选项{'、'.join(correct)}都是满分答案：在 Moodle 里这是「选其中任何一个都得满分」"
                                            "的单选题，本系统的单选题只能有一个正确答案；请只留一个用 = 标出，其余改成 ~")]
        partial = [f"{letter}（{a.weight:.0%}）" for letter, a in lettered if 0 < a.weight < 1]
        if partial:
            problems.append(Problem("warning", place, f"选项{'、'.join(partial)}在 Moodle 中得部分分；本系统的单选题只有 "
                                                      f"= 标出的选项{''.join(correct)}算对，选其他选项得 0 分"))
        qtype = SINGLE
    else:
        correct = [letter for letter, a in lettered if a.weight > 0]
        if not correct:
            return [Problem("error", place, "没有标出正确答案：单选题用 = 标出正确选项，"
                                            "多选题用 ~%50% 这样的正分权重标出每个正确选项")]
        qtype = MULTIPLE
    explanation = draft.explanation or _explanation([a.feedback for letter, a in lettered if letter in correct])
    problems.append(Draft(place=place, stem=draft.stem, category=draft.category, explanation=explanation,
                          qtype=qtype, options=[a.text for a in answers], answer="".join(correct)))
    return problems


def _true_false(draft: Draft, inside: str, text_format: str) -> Draft:
    """Read {T}, {TRUE}, {F} or {FALSE}, then the feedback for a wrong answer, then for a right one."""
    truth, wrong, right = (inside.split("#", 2) + ["", ""])[:3]
    explanation = (draft.explanation or _explanation([_part(right, text_format)])
                   or _explanation([_part(wrong, text_format)]))
    return Draft(place=draft.place, stem=draft.stem, category=draft.category, explanation=explanation, qtype=JUDGE,
                 answer="对" if truth.strip().upper().startswith("T") else "错")


def _short_answer(draft: Draft, inside: str, text_format: str) -> list[Draft | Problem]:
    """Read a short answer as a fill-in: every answer with credit is accepted, the quiz having no partial marks."""
    place = draft.place
    answers = _answers(_split(inside, "="), text_format, unweighted=1.0)
    accepted = [a for a in answers if a.weight > 0 and a.text]  # a 0% answer only carries feedback for a wrong guess
    if not accepted:
        return [Problem("error", place, "没有得分的答案：填空题用 = 写出正确答案，几个都算对时写成 {=答案一 =答案二}")]
    problems: list[Draft | Problem] = [
        Problem("warning", place, f"答案「{a.text}」在 Moodle 中只得 {a.weight:.0%} 的分；本系统的填空题没有部分得分，"
                                  f"答「{a.text}」也算全对；如果不该算对，请删去这个答案")
        for a in accepted if a.weight < 1]
    explanation = draft.explanation or _explanation([a.feedback for a in accepted if a.weight >= 1])
    problems.append(Draft(place=place, stem=draft.stem, category=draft.category, explanation=explanation,
                          qtype=FILL, answer="|".join(a.text for a in accepted)))
    return problems


def _explanation(feedbacks: list[str]) -> str:
    """Make the explanation from the feedback Moodle shows a player who answered right.

    The quiz shows one explanation to every player, right or wrong, as Moodle shows its general
    feedback (####) to all; so that one is the explanation, and only without it does the feedback of
    the right answers serve. A verdict at its start ("正确！", "Yes!") is dropped: under 回答错误 it
    would tell the player the opposite, and a feedback that is only a verdict explains nothing.
    """
    kept: list[str] = []
    for feedback in feedbacks:
        while match := _VERDICT.match(feedback):
            feedback = feedback[match.end():]
        if feedback and feedback not in kept:
            kept.append(feedback)
    return "\n".join(kept)
