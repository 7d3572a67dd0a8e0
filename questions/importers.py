"""Read a question bank file of any supported format into a checked BankReport."""
from __future__ import annotations

import logging
from pathlib import Path

from questions.aiken import looks_like_aiken, read_aiken
from questions.drafts import Draft, build_question
from questions.exam_text import read_exam_text
from questions.gift import looks_like_gift, read_gift
from questions.limits import MAX_FILE_BYTES, megabytes
from questions.model import BankReport, Problem
from questions.tabular import UnreadableFile, decode_text, read_csv, read_xlsx
from questions.tencent import looks_like_tencent, read_tencent
from questions.validators import validate
from questions.wjx import looks_like_wjx_key, looks_like_wjx_text, read_wjx_key, read_wjx_text
from questions.wjx_jsonl import looks_like_wjx_jsonl, read_wjx_jsonl

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".gift", ".aiken", ".text", ".md", ".jsonl")
SUPPORTED = "Excel（.xlsx）、CSV（.csv）、文本（.txt，含 GIFT、Aiken、问卷星、腾讯问卷格式）或问卷星 JSONL（.jsonl）"
# Text formats told apart by content, most specific first; exam papers are the rest.
TEXT_READERS = ((looks_like_tencent, read_tencent), (looks_like_wjx_key, read_wjx_key),
                (looks_like_wjx_text, read_wjx_text))


def read_bank(path: str | Path, *, default_points: int = 10) -> BankReport:
    """Read and check a bank file; bad content becomes problems in the report, never an exception."""
    path = Path(path)
    report = BankReport(source=str(path))
    try:
        items = _read_items(path)
    except UnreadableFile as exc:
        report.problems.append(Problem("error", exc.place or path.name, str(exc)))
        return report
    pending: dict[str, list[Problem]] = {}
    ordered: list[Problem | str] = []  # problems in file order, and the place of each question
    for item in items:
        if isinstance(item, Problem):
            ordered.append(item)
            continue
        question, problems = build_question(item, default_points=default_points)
        ordered += problems
        if question is not None:
            report.questions.append(question)
            report.places.append(item.place)
            ordered.append(item.place)
    for problem in validate(report.questions, report.places):
        pending.setdefault(problem.place, []).append(problem)
    for entry in ordered:
        if isinstance(entry, Problem):
            report.problems.append(entry)
        else:
            report.problems += pending.pop(entry, [])
    report.problems += [p for problems in pending.values() for p in problems]
    if not report.questions and not report.errors:
        report.problems.append(Problem("error", path.name, nothing_found_text(path)))
    logger.info("read %s: %d questions, %d errors, %d warnings", path, len(report.questions),
                len(report.errors), len(report.warnings))
    return report


TRIED = ("Excel/CSV 表格（表头有“题目”和“答案”）、试卷文本（“1. 题干”“A. 选项”“答案：B”）、Aiken、GIFT、"
         "问卷星（批量添加、问卷文本、答案卷、JSONL）、腾讯问卷")


def nothing_found_text(path: Path) -> str:
    """Say that no format found a question: which were tried, the first line none could read, the template."""
    first = ""
    try:
        data = path.read_bytes()
        if not data.startswith(b"PK\x03\x04"):
            for number, line in enumerate(decode_text(data).splitlines(), 1):
                if line.strip():
                    shown = line.strip()
                    shown = shown if len(shown) <= 40 else shown[:40] + "…"
                    first = f"第{number}行「{shown}」既不是题目也不是表头。"
                    break
    except (OSError, UnreadableFile):
        pass
    return (f"文件里没有找到题目。试过这些格式：{TRIED}，都没有读出题目。{first}"
            "请下载题库模板（后台“题库”页的“下载题库模板”，或命令 python -m bot questions template 模板.xlsx），照着填写后再导入")


def _read_items(path: Path) -> list[Draft | Problem]:
    """Pick the reader by extension and content."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UnreadableFile(f"文件有 {megabytes(size)}，超过上限 {megabytes(MAX_FILE_BYTES)}，不像是题库文件；"
                                 "请确认选对了文件")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFile("找不到这个文件，请检查路径和文件名") from None
    except OSError as exc:
        raise UnreadableFile(f"无法读取文件（{exc.strerror}），请检查文件权限") from None
    suffix = path.suffix.lower()
    if data.startswith(b"PK\x03\x04"):
        return read_xlsx(path)
    if suffix == ".xlsx":
        raise UnreadableFile("文件扩展名是 .xlsx，但内容不是 Excel 工作簿，请在 Excel 中重新另存为 .xlsx")
    if suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile("这是旧版 Excel（.xls）文件，请在 Excel 中「另存为」.xlsx 或 CSV 后再导入")
    if suffix not in (".csv", *TEXT_SUFFIXES):
        raise UnreadableFile(f"不支持 {suffix or '无扩展名'} 文件，请另存为 {SUPPORTED}")
    text = decode_text(data)
    if suffix == ".csv":
        return read_csv(path, text)
    # Before GIFT: a JSON line such as {"title":"1+1=2"} looks like a GIFT answer in braces.
    if suffix == ".jsonl" or (suffix not in (".gift", ".aiken") and looks_like_wjx_jsonl(text)):
        return read_wjx_jsonl(text)
    if suffix == ".gift" or (suffix != ".aiken" and looks_like_gift(text)):
        return read_gift(text)
    if suffix == ".aiken" or looks_like_aiken(text):
        return read_aiken(text)
    for looks_like, read in TEXT_READERS:
        if looks_like(text):
            return read(text)
    return read_exam_text(text)
