"""Read Moodle's Aiken format: a stem line, lettered options, then `ANSWER: X`."""
from __future__ import annotations

import re

from questions.drafts import Draft
from questions.model import SINGLE, Problem

OPTION = re.compile(r"^\s*([A-Z])\s*[.)]\s*(.*)$")
ANSWER = re.compile(r"^\s*ANSWER\s*:\s*(.*)$", re.IGNORECASE)
SNIFF = re.compile(r"^\s*ANSWER\s*:\s*[A-Z]\s*$", re.MULTILINE)


def looks_like_aiken(text: str) -> bool:
    """Tell whether a text file is in Aiken format (it has `ANSWER: X` lines)."""
    return bool(SNIFF.search(text))


def read_aiken(text: str) -> list[Draft | Problem]:
    """Read Aiken questions; a question without its ANSWER line is reported, not dropped."""
    items: list[Draft | Problem] = []
    current: Draft | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        answer = ANSWER.match(line)
        if answer:
            if current is None:
                items.append(Problem("error", f"第{number}行", "这行答案前面没有题目，请检查是否多写或漏写了题干"))
            else:
                current.answer = answer.group(1)
                items.append(current)
                current = None
            continue
        option = OPTION.match(line)
        if option and current is not None:
            current.options.append(option.group(2))
        elif current is not None and current.options:
            items.append(Problem("error", current.place, "缺少「ANSWER: 字母」行，Aiken 格式每道题的选项后都要写答案"))
            current = Draft(place=f"第{number}行", stem=line, qtype=SINGLE)
        elif current is not None:
            current.stem += "\n" + line
        else:
            current = Draft(place=f"第{number}行", stem=line, qtype=SINGLE)
    if current is not None:
        items.append(Problem("error", current.place, "缺少「ANSWER: 字母」行，Aiken 格式每道题的选项后都要写答案"))
    return items
