"""Fuzz every bank importer with random files and random-but-plausible question text.

`read_bank` must never raise: whatever the file holds comes back as a BankReport whose every
problem has a level, a place and a message, and whose report renders for the organizer.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import math
import string
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from questions.importers import read_bank
from questions.model import TYPES, BankReport, Question
from questions.report import report_lines
from questions.tencent import looks_like_tencent
from questions.wjx import looks_like_wjx_key, looks_like_wjx_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = (".xlsx", ".csv", ".txt", ".gift", ".aiken", ".md", ".jsonl", ".xls", "")

_files = itertools.count()


def written(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"bank{next(_files)}{suffix}"
    path.write_bytes(data)
    return path


def assert_sound(report: BankReport) -> None:
    """Check the report is what the console and the CLI can show: every problem placed and explained."""
    assert isinstance(report, BankReport)
    for problem in report.problems:
        assert problem.level in ("error", "warning"), problem
        assert isinstance(problem.place, str) and problem.place.strip(), problem
        assert isinstance(problem.message, str) and problem.message.strip(), problem
    assert len(report.places) == len(report.questions)
    for question in report.questions:
        assert isinstance(question, Question) and question.qtype in TYPES
    assert report.questions or report.errors, "an empty file must say that it holds no questions"
    assert all(isinstance(line, str) for line in report_lines(report))


# Lines an organizer's file is made of, in every format we read; mixed at random.
LINES = (
    "1. 世界知识产权日是每年的哪一天？", "第2题：专利权的期限是？", "（3）商标有效期为____年。", "3、", "10.5",
    "A. 4月26日", "B、3月15日", "C) 5月1日", "(D) 6月1日", "Ａ．全角选项", "H. 第八个", "I. 第九个", "○ 圆点选项",
    "答案：A", "答案:ABCD", "【答案】对", "正确答案：错", "答案：", "答案：Z", "答案：A、C", "参考答案：十五",
    "解析：专利法第四十二条。", "【解析】", "分值：5", "分值：-3", "分值：abc", "分类：专利", "题型：多选", "题型：问答",
    "一、单项选择题（每题2分）", "二、判断题", "第三部分", "[单选] 题干", "【多选】【5分】题干（AB）", "题干（√）",
    "ANSWER: A", "ANSWER: Q", "ANSWER:", "::标题:: 题干 {=对 ~错 ~也错}", "题干 {T}", "题干 {FALSE#反馈}",
    "题干 {=%50%甲 ~%-50%乙}", "题干 {#1:2}", "$CATEGORY: 专利", "// 注释", "{", "}", "\\{转义\\}", "{=}", "{~}",
    "", "   ", "\t", "题干 *", "<b>HTML</b>", "=", "~", "#", "::", "\u200b", "\ufeff答案：A", "x" * 3000,
)
plausible_lines = st.lists(st.one_of(st.sampled_from(LINES), st.text(max_size=30)), max_size=40)
newlines = st.sampled_from(("\n", "\r\n", "\r"))
text_encodings = st.sampled_from(("utf-8", "utf-8-sig", "gb18030", "utf-16"))

HEADERS = ("题型", "题目", "题干", "选项", "选项A", "选项B", "选项C", "选项D", "选项E", "答案", "正确答案", "解析",
           "分值", "分类", "A", "B", "备注", "", "题目", "答案")
cells = st.one_of(st.sampled_from(LINES), st.sampled_from(HEADERS), st.text(max_size=20),
                  st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                  st.none(), st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(9999, 1, 1)))
tables = st.lists(st.lists(cells, max_size=12), max_size=15)


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES),
       magic=st.sampled_from((b"", b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\xef\xbb\xbf", b"\xff\xfe")))
def test_random_bytes_in_any_suffix(tmp_path, data, suffix, magic):
    assert_sound(read_bank(written(tmp_path, suffix, magic + data)))


@FUZZ
@given(members=st.lists(st.tuples(st.sampled_from(("[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml",
                                                   "xl/sharedStrings.xml", "_rels/.rels", "xl/_rels/workbook.xml.rels",
                                                   "docProps/app.xml", "junk")),
                                  st.one_of(st.binary(max_size=200),
                                            st.sampled_from((b"<?xml version='1.0'?><x/>", b"<", b"",
                                                             b"<!DOCTYPE a [<!ENTITY b 'c'>]><a>&b;</a>")))),
                        max_size=8, unique_by=lambda m: m[0]))
def test_random_zip_named_xlsx(tmp_path, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members:
            archive.writestr(name, content)
    assert_sound(read_bank(written(tmp_path, ".xlsx", buffer.getvalue())))


@FUZZ
@given(sheets=st.lists(st.tuples(st.text(st.characters(categories=("L", "N")), min_size=1, max_size=10), tables),
                       min_size=1, max_size=3, unique_by=lambda s: s[0]))
def test_random_workbooks(tmp_path, sheets):
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title[:31])
        for row in rows:
            sheet.append([_storable(value) for value in row])
    path = tmp_path / f"bank{next(_files)}.xlsx"
    workbook.save(path)
    assert_sound(read_bank(path))


def _storable(value):
    """Keep what openpyxl can write; its cell rejects control characters and infinities."""
    if isinstance(value, str):
        return "".join(ch for ch in value if ch >= " " or ch in "\t\n\r")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


@FUZZ
@given(rows=tables, delimiter=st.sampled_from((",", "\t", ";", "|")), encoding=text_encodings,
       quoting=st.sampled_from((csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC)))
def test_random_csv(tmp_path, rows, delimiter, encoding, quoting):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, quoting=quoting).writerows(
        [["" if v is None else str(v) for v in row] for row in rows])
    assert_sound(read_bank(written(tmp_path, ".csv", buffer.getvalue().encode(encoding, "replace"))))


@FUZZ
@given(lines=plausible_lines, newline=newlines, encoding=text_encodings,
       suffix=st.sampled_from((".txt", ".gift", ".aiken", ".md", ".csv", ".jsonl")))
def test_plausible_question_text(tmp_path, lines, newline, encoding, suffix):
    data = newline.join(lines).encode(encoding, "replace")
    assert_sound(read_bank(written(tmp_path, suffix, data)))


# Option runs: up to 30 options, lettered in every way organizers and generators write them.
FULL_WIDTH = "".join(chr(ord(letter) + 0xFEE0) for letter in string.ascii_uppercase)
ALPHABETS = (string.ascii_uppercase, FULL_WIDTH, string.ascii_lowercase, "IJKLMNOPQRSTUVWXYZ", "A" * 30,
             "ABCDEFGH" * 4, "ＡＢＣＤＥＦＧＨabcdefghIJKLMN")
option_letters = st.one_of(st.sampled_from(ALPHABETS),
                           st.text(st.sampled_from("ABCDEFGHIJKLZＡＢＨＩａabhiz"), min_size=1, max_size=30))
OPTION_MARKS = ("{}. ", "{}、", "{}）", "{})", "({}) ", "（{}）", "{}．", "{}：", "{}:", "○ ", "□ ", "")
OPTION_TEXTS = ("甲", "乙", "", " ", "第九个", "x" * 200, "第 3 页", "对", "错", "A", "I. 嵌套")


@st.composite
def option_runs(draw) -> list[str]:
    """Draw the lines of a run of options: one per line, several to a line, or a mix."""
    letters = draw(option_letters)
    mark = draw(st.sampled_from(OPTION_MARKS))
    count = draw(st.integers(0, 30))
    options = [mark.format(letters[i % len(letters)]) + draw(st.sampled_from(OPTION_TEXTS)) for i in range(count)]
    per_line = draw(st.sampled_from((1, 1, 2, 4, 30)))
    return ["  ".join(options[i:i + per_line]) for i in range(0, count, per_line)]


answers = st.one_of(st.sampled_from(("A", "H", "I", "Z", "AB", "ＡＩ", "a", "", "对")),
                    st.text(st.sampled_from("ABHIJZＡａ,、"), max_size=4))


@st.composite
def many_option_questions(draw) -> str:
    """Draw one question with a long option run, as exam text, Aiken or GIFT."""
    run, answer = draw(option_runs()), draw(answers)
    style = draw(st.sampled_from(("exam", "aiken", "gift")))
    if style == "exam":
        return "\n".join([f"{draw(st.integers(1, 99))}. 下列哪项正确？", *run, f"答案：{answer}"])
    if style == "aiken":
        return "\n".join(["下列哪项正确？", *run, f"ANSWER: {answer}"])
    marks = draw(st.lists(st.sampled_from("=~"), min_size=len(run), max_size=len(run)))
    return "下列哪项正确？ {" + " ".join(mark + line.replace("{", "").replace("}", "") for mark, line in zip(marks, run)) + "}"


@FUZZ
@given(questions=st.lists(many_option_questions(), min_size=1, max_size=4), newline=newlines,
       suffix=st.sampled_from((".txt", ".gift", ".aiken", ".md")))
def test_long_option_runs_in_text(tmp_path, questions, newline, suffix):
    data = (newline * 2).join(questions).replace("\n", newline).encode("utf-8")
    assert_sound(read_bank(written(tmp_path, suffix, data)))


@st.composite
def many_option_tables(draw) -> list[list[str]]:
    """Draw a sheet whose options sit in up to 30 option columns, or all in one cell."""
    count = draw(st.integers(0, 30))
    naming = draw(st.sampled_from(("选项{}", "{}", "{}项", "{}选项")))
    letters = draw(st.sampled_from((string.ascii_uppercase, FULL_WIDTH, string.ascii_lowercase)))
    numbered = draw(st.booleans())
    columns = [naming.format(str(i + 1) if numbered else letters[i % len(letters)]) for i in range(count)]
    header = ["题目", *columns, "选项", "答案"]
    rows = [header]
    for _ in range(draw(st.integers(1, 4))):
        cells = [draw(st.sampled_from(OPTION_TEXTS)) for _ in columns]
        block = "\n".join(draw(option_runs())) if draw(st.booleans()) else ""
        rows.append(["下列哪项正确？", *cells, block, draw(answers)])
    return rows


@FUZZ
@given(rows=many_option_tables(), as_xlsx=st.booleans())
def test_long_option_runs_in_tables(tmp_path, rows, as_xlsx):
    if as_xlsx:
        workbook = Workbook()
        for row in rows:
            workbook.active.append(row)
        path = tmp_path / f"bank{next(_files)}.xlsx"
        workbook.save(path)
    else:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        path = written(tmp_path, ".csv", buffer.getvalue().encode("utf-8"))
    assert_sound(read_bank(path))


@pytest.mark.parametrize("name", ["missing.txt", "folder.csv"])
def test_missing_file_or_folder_is_a_problem_not_an_error(tmp_path, name):
    (tmp_path / "folder.csv").mkdir()
    assert_sound(read_bank(tmp_path / name))


# The survey platforms' shapes: 问卷星 text (batch-add, survey, pasted papers), its JSONL, 腾讯问卷.
WJX_LABELS = ("[单选题]", "[多选题]", "[判断题]", "[填空题]", "【单选题】", "[下拉框]", "[简答题]", "[排序题]", "[量表题]",
              "[矩阵单选题]", "[多项填空题]", "[段落说明]", "[未知题]", "[", "]", "")
WJX_ANSWERS = ("(B)", "（AC）", "(对)", "（错误）", "(正确)", "(12330)", "(12330|一二三三零)", "()", "（ ）", "(E)", "(Z)",
               "(TRIPS)", "(也许)", "((A))", "(", ")", "")
WJX_TAILS = ("", " (2分)", "（3分）", "(0.5分)", "(-1分)", "[5分]", "（选填）", " *", "(系统评分)", "(2分)（选填）*")
WJX_LINES = ("4月26日", "3月15日", "对", "错", "正确", "错误", "", "   ", "=== 分页 ===", "===分页===", "解析：专利法第二条。",
             "【解析】", "A.物权 B.专利权(正确答案) C.债权", "B.知识产权法属于民法(正确答案)", "C) 选项（正确答案）",
             "正确答案：B", "答案：12330", "1~5", "行：", "- 沟通能力", "x" * 2000)


@st.composite
def wjx_questions(draw) -> str:
    """Draw one 问卷星 question: a numbered stem with label, answer and points, then its lines."""
    number = draw(st.sampled_from(("1. ", "2、", "3.", "第4题：", "（5）", "10.5 ", "")))
    parts = [draw(st.sampled_from(("世界知识产权日是每年的哪一天？", "以下哪种属于知识产权？()", "期限为(B)年。", "", "x" * 500))),
             draw(st.sampled_from(WJX_ANSWERS)), draw(st.sampled_from(WJX_LABELS)), draw(st.sampled_from(WJX_TAILS))]
    order = draw(st.permutations(range(len(parts))))
    header = number + "".join(parts[i] for i in (order if draw(st.booleans()) else range(len(parts))))
    lines = draw(st.lists(st.one_of(st.sampled_from(WJX_LINES), st.text(max_size=20)), max_size=12))
    return "\n".join([header, *lines])


@FUZZ
@given(questions=st.lists(wjx_questions(), max_size=6), title=st.sampled_from(("知识产权知识问卷\n\n感谢参与。", "", "1")),
       newline=newlines, encoding=text_encodings, blank=st.sampled_from(("\n\n", "\n", "\n=== 分页 ===\n")))
def test_wjx_text_in_every_shape(tmp_path, questions, title, newline, encoding, blank):
    text = blank.join([title, *questions]).replace("\n", newline)
    report = read_bank(written(tmp_path, ".txt", text.encode(encoding, "replace")))
    assert_sound(report)
    if looks_like_wjx_text(text) or looks_like_wjx_key(text):
        # A choice question read without options is one message, never "0 options" beside an answer letter.
        assert not any("现在只有 0 个" in p.message for p in report.problems)


TENCENT_LABELS = ("[Single Choice]", "[Multiple Choice]", "[True/False]", "[Fill-in-Blank]", "[Essay]",
                  "[Multiple Fill-in-Blank]", "[Variable Choice]", "[单选题]", "[多选题]", "[判断题]", "[填空题]", "[简答题]",
                  "[多项填空题]", "[Rating]", "[]", "")
TENCENT_TAGS = ("[Answer: D]", "[Answer: B, C]", "[Answer: 1.Autumn wind, 2.Great waves]", "[Answer: True]",
                "[Answer:]", "[答案：A]", "[答案：A,B,C]", "[答案：正确]", "[答案：12330]", "[答案：1.12330]", "[正确答案：Z]",
                "[Score: 5]", "[Score: 2, 3]", "[分数：5]", "[分值：abc]", "[Score:]", "[All]", "[Partial]", "[ByBlank]",
                "[Manual]", "[解析：专利法第二条。]", "[Explanation: ok]", "(Question Description)", "（说明）", "[", "]")
TENCENT_LINES = ("A. 4月26日", "B. 3月15日", "Ｃ．全角", "H. 第八个", "I. 第九个", "A.", "正确", "错误", "解析：第四十二条。",
                 "Trees grow in clusters. ____, ____.", "", " ", "x" * 2000)


@st.composite
def tencent_questions(draw) -> str:
    """Draw one 腾讯问卷 question: a stem, its labels in any order, then option lines."""
    stem = draw(st.sampled_from(("Which day is World IP Day?", "1. 世界知识产权日是哪一天？", "(    ) Which methods", "",
                                 "根据[2020年修正]的专利法")))
    tags = draw(st.lists(st.sampled_from(TENCENT_TAGS), max_size=5))
    header = stem + draw(st.sampled_from(TENCENT_LABELS)) + "".join(tags)
    lines = draw(st.lists(st.one_of(st.sampled_from(TENCENT_LINES), st.text(max_size=20)), max_size=10))
    return "\n".join([header, *lines])


@FUZZ
@given(questions=st.lists(tencent_questions(), max_size=6), newline=newlines, encoding=text_encodings,
       blank=st.sampled_from(("\n\n", "\n")))
def test_tencent_text_in_every_shape(tmp_path, questions, newline, encoding, blank):
    text = blank.join(["IP Week Quiz", *questions]).replace("\n", newline)
    report = read_bank(written(tmp_path, ".txt", text.encode(encoding, "replace")))
    assert_sound(report)
    if looks_like_tencent(text):
        assert not any("现在只有 0 个" in p.message for p in report.problems)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), st.text(max_size=10),
              st.sampled_from(("A", "AC", "A,C", "对", "错", "正确", "E", "1", "专利权", "<br>", "<b>x</b>", "&amp;"))),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)
JSONL_TYPES = ("考试单选", "考试多选", "考试判断", "考试单项填空", "考试多项填空", "考试简答", "单选", "多选", "问卷基础信息", "分页栏",
               "段落说明", "矩阵单选", "radio", "", 3)


@st.composite
def jsonl_lines(draw) -> str:
    """Draw one JSONL line: a plausible exam question with any values, any JSON at all, or a broken line."""
    kind = draw(st.sampled_from(("question", "question", "question", "json", "broken")))
    if kind == "json":
        return json.dumps(draw(json_values), ensure_ascii=draw(st.booleans()))
    record = {draw(st.sampled_from(("qtype", "q_type", "type"))): draw(st.sampled_from(JSONL_TYPES))}
    for key in draw(st.lists(st.sampled_from(("title", "q_title", "select", "items", "correctselect", "quizscore",
                                              "score", "answeranalysis", "isquiz", "answerlists")), max_size=7)):
        if key in ("select", "items"):
            record[key] = draw(st.one_of(
                st.lists(st.one_of(st.sampled_from(("4月26日", "A. 发明", "B. 商标", "对", "错", "")), json_values,
                                   st.fixed_dictionaries({"item_title": json_values},
                                                         optional={"item_correct": json_values})), max_size=10),
                json_values))
        else:
            record[key] = draw(json_values)
    line = json.dumps(record, ensure_ascii=draw(st.booleans()))
    return line[:draw(st.integers(0, len(line)))] if kind == "broken" else line


@FUZZ
@given(lines=st.lists(st.one_of(jsonl_lines(), st.sampled_from(("", " ", "[" * 5000, "1" * 5000, "\u2028"))),
                     max_size=10), newline=newlines, suffix=st.sampled_from((".jsonl", ".txt")))
def test_wjx_jsonl_with_any_values(tmp_path, lines, newline, suffix):
    report = read_bank(written(tmp_path, suffix, newline.join(lines).encode("utf-8")))
    assert_sound(report)
    if suffix == ".jsonl":
        assert not any("现在只有 0 个" in p.message for p in report.problems)
