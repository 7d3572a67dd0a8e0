"""Read question rows from Excel (.xlsx) and CSV files whose header uses organizers' column names."""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from questions.drafts import Draft
from questions.exam_text import split_option_block
from questions.fields import fold, parse_type
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
_NUMBERED_ANSWER_HEADER = re.compile(r"^(?:答案|正确答案|参考答案|标准答案)([1-9])$")  # several accepted answers
_HEADER_NOISE = re.compile(r"\s+|\([^)]*\)|【[^】]*】|\[[^\]]*\]|\*")  # after fold: （必填） is (必填)
_SHEET_NOISE = re.compile(r"^(?:[一二三四五六七八九十]+|\d+)[、.)]|\([^)]*\)|【[^】]*】|\s+")  # 一、单选题（20题）
UNASKABLE_SHEETS = frozenset({"简答", "问答", "论述", "名词解释", "计算", "案例分析", "材料分析", "作文"})
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

    row: int  # the header's first row
    fields: dict[str, int]
    options: tuple[int, ...]  # column of option A, B, ... in order
    answers: tuple[int, ...]  # the 答案 column, or the columns 答案1, 答案2, ... of several accepted answers
    problems: tuple[Problem, ...]


@dataclass
class _Labels:
    """What the cells of one header row name, by column (0-based)."""

    keys: dict[int, str] = field(default_factory=dict)  # every non-empty cell, normalised
    fields: dict[str, int] = field(default_factory=dict)
    options: dict[int, int] = field(default_factory=dict)  # option index → column
    answers: dict[int, int] = field(default_factory=dict)  # 答案1, 答案2 ... → column
    unknown: dict[int, str] = field(default_factory=dict)  # column → the cell as written


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
    """Normalise a header cell: fold widths, drop spaces, asterisks and remarks in brackets (（必填）, 【必填】)."""
    return _HEADER_NOISE.sub("", fold(text)).upper()


def sheet_type(title: str) -> str | None:
    """Return the type a sheet's name gives its rows ("单选题" → 单选), "" for none, None for one the quiz cannot ask."""
    name = _SHEET_NOISE.sub("", fold(title))
    if name.removesuffix("题") in UNASKABLE_SHEETS:
        return None
    if name in ("选择", "选择题"):  # such a sheet holds single and multiple choice alike
        return ""
    return parse_type(name) or ""


def _labels(cells: list[str]) -> _Labels:
    labels = _Labels()
    for column, text in enumerate(cells):
        key = header_key(text)
        if not key:
            continue
        labels.keys[column] = key
        option = _OPTION_HEADER.match(key) or _NUMBERED_OPTION_HEADER.match(key)
        answer = _NUMBERED_ANSWER_HEADER.match(key)
        if option:
            letter = option.group(1)
            labels.options.setdefault(LETTERS.index(letter) if letter in LETTERS else int(letter) - 1, column)
        elif answer:
            labels.answers.setdefault(int(answer.group(1)), column)
        elif key in _FIELD_OF:
            labels.fields.setdefault(_FIELD_OF[key], column)
        elif key not in IGNORED_HEADERS:
            labels.unknown[column] = text.strip()
    return labels


def _second_row(top: _Labels, below: _Labels) -> bool:
    """Tell whether a row completes a two-row header.

    As people lay one out: 选项 merged across the option columns above the letters A B C D, and the
    other names merged down both rows, so that the second row is blank under them (or repeats them).
    """
    if not below.options or below.unknown:
        return False
    group = top.fields.get("option_block")
    return all(top.keys.get(column) in (None, key) or column == group for column, key in below.keys.items())


def _merged(top: _Labels, below: _Labels) -> _Labels:
    """Combine the two rows of a header; a column named in the second row takes that name."""
    def kept(columns: dict) -> dict:
        return {name: column for name, column in columns.items() if column not in below.keys}

    return _Labels(keys={**top.keys, **below.keys}, fields={**kept(top.fields), **below.fields},
                   options={**kept(top.options), **below.options}, answers={**kept(top.answers), **below.answers},
                   unknown={c: t for c, t in top.unknown.items() if c not in below.keys})


def _header(labels: _Labels, row: int, place: str) -> Header:
    fields = dict(labels.fields)
    answers = [fields.pop("answer")] if "answer" in fields else []
    answers += [labels.answers[n] for n in sorted(labels.answers)]
    problems = []
    if not answers:
        problems.append(Problem("error", place, "表头缺少「答案」列，请加一列「答案」填写正确答案"))
    options = labels.options
    gaps = [LETTERS[i] for i in range(max(options, default=-1) + 1) if i not in options]
    if gaps:
        problems.append(Problem("error", place, f"表头缺少「选项{'」「选项'.join(gaps)}」列，选项列应从选项A起连续排列"))
    for text in labels.unknown.values():
        problems.append(Problem("warning", place, f"不认识的列「{text}」，已忽略；可用的列名见题库模板（后台“题库”页下载，或 questions template 命令生成）"))
    return Header(row=row, fields=fields, options=tuple(options[i] for i in sorted(options)), answers=tuple(answers),
                  problems=tuple(problems))


def read_header(rows: Iterator[tuple[int, list[str]]], place_of) -> tuple[Header | None, list[tuple[int, list[str]]]]:
    """Find the header (one row, or two) among the first rows: the first row naming a stem column.

    Returns the header, or None, and the row read past it that turned out to be a question.
    """
    for number, cells in rows:
        if number > HEADER_SEARCH_ROWS:
            return None, []
        top = _labels(cells)
        if "stem" in top.fields:
            break
    else:
        return None, []
    following = next(rows, None)
    if following is not None and _second_row(top, below := _labels(following[1])):
        return _header(_merged(top, below), number, place_of(number)), []
    return _header(top, number, place_of(number)), [following] if following is not None else []


def rows_to_drafts(rows: Iterable[tuple[int, list[str]]], place_of, *, room: int = MAX_QUESTION_ROWS,
                   qtype: str = "") -> tuple[bool, list[Draft | Problem]]:
    """Find the header among the first rows, then read a draft from each non-empty row after it.

    `qtype` is the type of each row that names none (the type a sheet's name gives).
    Returns whether a header was found, and the drafts and header problems in row order.
    Raises UnreadableFile at a cell longer than MAX_CELL_CHARS or when more than `room` drafts
    (what is left of MAX_QUESTION_ROWS) would be read, so that a crafted file is never read to its end.
    """
    rows = _checked(rows, place_of)
    header, read_past = read_header(rows, place_of)
    if header is None:
        return False, []
    items: list[Draft | Problem] = list(header.problems)
    for number, cells in itertools.chain(read_past, rows):
        if not any(c.strip() for c in cells):
            continue
        if room <= 0:
            raise UnreadableFile(f"题目超过上限 {MAX_QUESTION_ROWS:,} 道，读到这一行时停止读取；"
                                 "一个题库用不了这么多题，请删去多余的行后再导入", place_of(number))
        room -= 1

        def cell(column: int | None) -> str:
            return cells[column] if column is not None and column < len(cells) else ""

        def get(name: str) -> str:
            return cell(header.fields.get(name))

        options = [cell(c) for c in header.options]
        if not any(options) and get("option_block").strip():
            options = split_option_block(get("option_block"))
        items.append(Draft(place=place_of(number), stem=get("stem"), qtype=get("qtype").strip() or qtype,
                           answer="|".join(text for text in map(cell, header.answers) if text.strip()),
                           explanation=get("explanation"), points=get("points"), category=get("category"),
                           options=options))
    return True, items


def _checked(rows: Iterable[tuple[int, list[str]]], place_of) -> Iterator[tuple[int, list[str]]]:
    for number, cells in rows:
        check_cells(cells, place_of(number))
        yield number, cells


def check_cells(cells: list[str], place: str) -> None:
    """Refuse a row with a cell longer than MAX_CELL_CHARS, naming its column."""
    for column, text in enumerate(cells):
        if len(text) > MAX_CELL_CHARS:
            raise UnreadableFile(f"{get_column_letter(column + 1)} 列：单元格有 {len(text):,} 个字符，"
                                 f"超过上限 {MAX_CELL_CHARS:,} 个字符，不像是题目内容；"
                                 "请检查这个单元格是否粘贴了多余的内容", place)


def _no_header(where: str) -> Problem:
    return Problem("error", where, "找不到表头：前几行中应有一行列名，至少包含「题目」和「答案」；"
                                   "可下载题库模板（后台“题库”页，或 python -m bot questions template）后对照填写")


def _cannot_open(exc: Exception) -> UnreadableFile:
    return UnreadableFile("无法作为 Excel 文件打开（文件已损坏，或不是 .xlsx）。请确认文件是 .xlsx 格式且没有损坏；"
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
    """Read every sheet that has a recognisable header (an instruction sheet is skipped).

    A sheet named for a type (单选题, 多选题, 判断题, 填空题), as exam systems export one sheet per
    type, gives that type to its rows that name none; a sheet named for a type the quiz cannot ask
    (简答题 ...) is reported and not read.
    """
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
            qtype = sheet_type(sheet.title)
            if qtype is None:
                items.append(Problem("warning", f"工作表「{sheet.title}」",
                                     "本系统只能出单选、多选、判断、填空题，这个工作表的题型不在其中，没有读取；"
                                     "其中如有这几种题，请移到对应的工作表"))
                continue
            # Some generators write a wrong <dimension>; without this a read-only sheet may lose columns.
            sheet.reset_dimensions()
            rows = ((n, [cell_text(v) for v in values])
                    for n, values in enumerate(sheet.iter_rows(values_only=True), 1))
            found, sheet_items = rows_to_drafts(rows, lambda n, title=sheet.title: f"{title}!第{n}行", room=room,
                                                qtype=qtype)
            any_header = any_header or found
            items += sheet_items
            room -= sum(isinstance(item, Draft) for item in sheet_items)
    finally:
        workbook.close()
    return items if any_header or items else [_no_header(path.name)]


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
