"""Read question rows from Excel (.xlsx) and CSV files whose header uses organizers' column names."""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from questions.drafts import Draft
from questions.exam_text import split_option_block
from questions.fields import fold
from questions.limits import (MAX_ARCHIVE_MEMBERS, MAX_CELL_CHARS, MAX_COMPRESSION_RATIO, MAX_MEMBER_BYTES,
                              MAX_QUESTION_ROWS, MAX_UNCOMPRESSED_BYTES, RATIO_CHECKED_FROM_BYTES, megabytes)
from questions.model import LETTERS, Problem

logger = logging.getLogger(__name__)

HEADER_NAMES = {
    "qtype": ("题型", "题目类型", "试题类型", "类型", "题类"),
    "stem": ("题目", "题干", "试题", "问题", "题目内容", "试题内容", "题目名称", "问题内容"),
    "answer": ("答案", "正确答案", "正确选项", "标准答案", "参考答案"),
    "explanation": ("解析", "答案解析", "题目解析", "试题解析", "解释"),
    "points": ("分值", "分数", "每题分值"),
    "category": ("分类", "题目分类", "类别", "题目类别", "知识点"),
    "option_block": ("选项", "全部选项", "选项内容"),  # every option in one cell
}
IGNORED_HEADERS = frozenset({"序号", "题号", "编号", "难度", "备注", "说明"})
_FIELD_OF = {name: key for key, names in HEADER_NAMES.items() for name in names}
_OPTION_HEADER = re.compile(r"^(?:选项)?([A-H])(?:选项|项)?$")
_NUMBERED_OPTION_HEADER = re.compile(r"^选项([1-8])$")
_HEADER_NOISE = re.compile(r"\s+|[(（][^)）]*[)）]|\*")
HEADER_SEARCH_ROWS = 10


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says what to do (in Chinese).

    `place` is the row the reading stopped at, or "" for the file as a whole.
    """

    def __init__(self, message: str, place: str = "") -> None:
        super().__init__(message)
        self.place = place


@dataclass(frozen=True)
class Header:
    """Where each field sits in a row (0-based columns), and the header's own problems."""

    row: int
    fields: dict[str, int]
    options: tuple[int, ...]  # column of option A, B, ... in order
    problems: tuple[Problem, ...]


def cell_text(value) -> str:
    """Render a cell value as the text an organizer typed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "对" if value else "错"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    return str(value)


def header_key(text: str) -> str:
    """Normalise a header cell: fold widths, drop spaces, asterisks and remarks in brackets."""
    return _HEADER_NOISE.sub("", fold(text)).upper()


def read_header(cells: list[str], row: int, place: str) -> Header | None:
    """Recognise a header row, or return None if the row is not one (it has no stem column)."""
    fields: dict[str, int] = {}
    options: dict[int, int] = {}
    unknown: list[str] = []
    for column, text in enumerate(cells):
        key = header_key(text)
        if not key:
            continue
        option = _OPTION_HEADER.match(key) or _NUMBERED_OPTION_HEADER.match(key)
        if option:
            letter = option.group(1)
            index = LETTERS.index(letter) if letter in LETTERS else int(letter) - 1
            options.setdefault(index, column)
        elif key in _FIELD_OF:
            fields.setdefault(_FIELD_OF[key], column)
        elif key not in IGNORED_HEADERS:
            unknown.append(text.strip())
    if "stem" not in fields:
        return None
    problems = []
    if "answer" not in fields:
        problems.append(Problem("error", place, "表头缺少「答案」列，请加一列「答案」填写正确答案"))
    gaps = [LETTERS[i] for i in range(max(options, default=-1) + 1) if i not in options]
    if gaps:
        problems.append(Problem("error", place, f"表头缺少「选项{'」「选项'.join(gaps)}」列，选项列应从选项A起连续排列"))
    for text in unknown:
        problems.append(Problem("warning", place, f"不认识的列「{text}」，已忽略；可用的列名见 questions template 生成的模板"))
    ordered = tuple(options[i] for i in sorted(options))
    return Header(row=row, fields=fields, options=ordered, problems=tuple(problems))


def rows_to_drafts(rows: Iterable[tuple[int, list[str]]], place_of, *,
                   room: int = MAX_QUESTION_ROWS) -> tuple[bool, list[Draft | Problem]]:
    """Find the header among the first rows, then read a draft from each non-empty row after it.

    Returns whether a header was found, and the drafts and header problems in row order.
    Raises UnreadableFile at a cell longer than MAX_CELL_CHARS or when more than `room` drafts
    (what is left of MAX_QUESTION_ROWS) would be read, so that a crafted file is never read to its end.
    """
    header: Header | None = None
    items: list[Draft | Problem] = []
    for number, cells in rows:
        check_cells(cells, place_of(number))
        if header is None:
            if number > HEADER_SEARCH_ROWS:
                break
            header = read_header(cells, number, place_of(number))
            if header is not None:
                items += header.problems
            continue
        if not any(c.strip() for c in cells):
            continue
        if room <= 0:
            raise UnreadableFile(f"题目超过上限 {MAX_QUESTION_ROWS:,} 道，读到这一行时停止读取；"
                                 "一个题库用不了这么多题，请删去多余的行后再导入", place_of(number))
        room -= 1

        def get(name: str) -> str:
            column = header.fields.get(name)
            return cells[column] if column is not None and column < len(cells) else ""

        options = [cells[c] if c < len(cells) else "" for c in header.options]
        if not any(options) and get("option_block").strip():
            options = split_option_block(get("option_block"))
        items.append(Draft(place=place_of(number), stem=get("stem"), answer=get("answer"), qtype=get("qtype"),
                           explanation=get("explanation"), points=get("points"), category=get("category"),
                           options=options))
    return header is not None, items


def check_cells(cells: list[str], place: str) -> None:
    """Refuse a row with a cell longer than MAX_CELL_CHARS, naming its column."""
    for column, text in enumerate(cells):
        if len(text) > MAX_CELL_CHARS:
            raise UnreadableFile(f"{get_column_letter(column + 1)} 列：单元格有 {len(text):,} 个字符，"
                                 f"超过上限 {MAX_CELL_CHARS:,} 个字符，不像是题目内容；"
                                 "请检查这个单元格是否粘贴了多余的内容", place)


def _no_header(where: str) -> Problem:
    return Problem("error", where, "找不到表头：前几行中应有一行列名，至少包含「题目」和「答案」；"
                                   "可用 python -m bot questions template 生成模板后对照填写")


def _cannot_open(exc: Exception) -> UnreadableFile:
    return UnreadableFile(f"无法作为 Excel 文件打开（{type(exc).__name__}）。请确认文件是 .xlsx 格式且没有损坏；"
                          "旧的 .xls 文件请在 Excel 中另存为 .xlsx 或 CSV")


def _part(name: str) -> str:
    """Name an archive member, saying what it holds when an organizer would recognise it."""
    if name.endswith("sharedStrings.xml"):
        return f"{name}，单元格里的文字"
    if "worksheets/" in name:
        return f"{name}，一个工作表"
    return name


def check_archive(path: Path) -> None:
    """Refuse an .xlsx that would unpack too large, judging from the zip's directory alone.

    zipfile never unpacks a member past the size its directory entry declares (it stops there
    and fails the CRC), so these sizes bound what openpyxl can unpack afterwards.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except Exception as exc:  # noqa: BLE001 - zipfile raises several types for a damaged file
        logger.info("cannot open %s as zip: %r", path, exc)
        raise _cannot_open(exc) from None
    again = "请在 Excel 中删去多余的行和列（包括只设置了格式的空行），另存为新的 .xlsx 后再导入"
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise UnreadableFile(f"文件里有 {len(members):,} 个部分，超过上限 {MAX_ARCHIVE_MEMBERS:,} 个，"
                             f"不像是正常的题库文件；{again}")
    total = sum(member.file_size for member in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise UnreadableFile(f"解压后的内容有 {megabytes(total)}，超过上限 {megabytes(MAX_UNCOMPRESSED_BYTES)}，"
                             f"不像是正常的题库文件；{again}")
    for member in members:
        if member.file_size > MAX_MEMBER_BYTES:
            raise UnreadableFile(f"其中一部分（{_part(member.filename)}）解压后有 {megabytes(member.file_size)}，"
                                 f"超过上限 {megabytes(MAX_MEMBER_BYTES)}，不像是正常的题库文件；{again}")
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= RATIO_CHECKED_FROM_BYTES and ratio > MAX_COMPRESSION_RATIO:
            raise UnreadableFile(f"其中一部分（{_part(member.filename)}）从 {member.compress_size:,} 字节解压成 "
                                 f"{megabytes(member.file_size)}（{ratio:,.0f} 倍），超过上限 {MAX_COMPRESSION_RATIO} 倍，"
                                 f"不像是正常的题库文件；{again}")


def read_xlsx(path: Path) -> list[Draft | Problem]:
    """Read every sheet that has a recognisable header (an instruction sheet is skipped)."""
    check_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a damaged file
        logger.info("cannot open %s as xlsx: %r", path, exc)
        raise _cannot_open(exc) from None
    items: list[Draft | Problem] = []
    any_header = False
    room = MAX_QUESTION_ROWS
    try:
        for sheet in workbook.worksheets:
            # Some generators write a wrong <dimension>; without this a read-only sheet may lose columns.
            sheet.reset_dimensions()
            rows = ((n, [cell_text(v) for v in values])
                    for n, values in enumerate(sheet.iter_rows(values_only=True), 1))
            found, sheet_items = rows_to_drafts(rows, lambda n, title=sheet.title: f"{title}!第{n}行", room=room)
            any_header = any_header or found
            items += sheet_items
            room -= sum(isinstance(item, Draft) for item in sheet_items)
    finally:
        workbook.close()
    return items if any_header else [_no_header(path.name)]


def decode_text(data: bytes) -> str:
    """Decode a text file saved as UTF-8 (with or without BOM), UTF-16 or GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UnreadableFile("文件开头标明是 UTF-16 编码，但内容不完整或已损坏，请另存为 UTF-8 后再导入") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise UnreadableFile("无法识别文件编码，请另存为 UTF-8 或 GB18030（Excel 的「CSV（逗号分隔）」）") from None


def read_csv(path: Path, text: str) -> list[Draft | Problem]:
    """Read a CSV (comma, tab or semicolon separated); rows are numbered as Excel shows them."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",\t;", key=first.count)
    found, items = rows_to_drafts(_csv_rows(text, delimiter), lambda n: f"第{n}行")
    return items if found else [_no_header(path.name)]


def _csv_rows(text: str, delimiter: str) -> Iterable[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            # With this dialect the reader's only error is its own field limit, far above ours.
            raise UnreadableFile(f"这一行有单元格超过 {csv.field_size_limit():,} 个字符（上限 {MAX_CELL_CHARS:,} 个字符），"
                                 "不像是题目内容；请检查是否少了引号或粘贴了多余的内容", f"第{number}行") from None
        yield number, row
        number += 1
