"""Render a BankReport as the lines an organizer reads."""
from __future__ import annotations

from collections import Counter

from questions.model import TYPES, BankReport, Question

LEVEL_NAMES = {"error": "错误", "warning": "警告"}


def count_line(questions: list[Question]) -> str:
    """Return "共 42 题：单选 20，多选 8，判断 10，填空 4"."""
    return type_counts_line(len(questions), Counter(q.qtype for q in questions))


def type_counts_line(total: int, by_type: dict[str, int]) -> str:
    """Return the count line for a total and counts by type."""
    return f"共 {total} 题：" + "，".join(f"{qtype} {by_type.get(qtype, 0)}" for qtype in TYPES)


def report_lines(report: BankReport) -> list[str]:
    """Return the counts, one line per problem with its place, and a verdict."""
    lines = [f"文件：{report.source}", count_line(report.questions)]
    lines += [f"{LEVEL_NAMES[p.level]}  {p.place}  {p.message}" for p in report.problems]
    errors, warnings = len(report.errors), len(report.warnings)
    if errors:
        lines.append(f"检查未通过：{errors} 个错误，{warnings} 个警告。请改正错误后再导入。")
    else:
        lines.append(f"检查通过：没有错误，{warnings} 个警告。")
    return lines
