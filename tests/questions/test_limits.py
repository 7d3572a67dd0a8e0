"""Files too large to be a bank are refused with what is too large and the limit, before they are unpacked."""
from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile

import pytest
from openpyxl import Workbook

from questions import tabular
from questions.importers import read_bank
from questions.limits import MAX_QUESTION_ROWS, MB

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?>'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Target="xl/workbook.xml" Type="http://schemas.openxmlformats.org/'
         'officeDocument/2006/relationships/officeDocument"/></Relationships>')
_WORKBOOK = ('<?xml version="1.0" encoding="UTF-8"?>'
             '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
             'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
             '<sheets><sheet name="题目" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = ('<?xml version="1.0" encoding="UTF-8"?>'
                  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  '<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="http://schemas.openxmlformats.org/'
                  'officeDocument/2006/relationships/worksheet"/>'
                  '<Relationship Id="rId2" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
                  'officeDocument/2006/relationships/sharedStrings"/></Relationships>')
_SHEET = ('<?xml version="1.0" encoding="UTF-8"?>'
          '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
          '<row r="1"><c r="A1" t="inlineStr"><is><t>答案</t></is></c>'
          '<c r="B1" t="inlineStr"><is><t>题目</t></is></c></row>'
          '<row r="2"><c r="A2" t="inlineStr"><is><t>对</t></is></c><c r="B2" t="s"><v>0</v></c></row>'
          '</sheetData></worksheet>')


def xlsx_with_long_stem(path, chars: int):
    """Write a one-question workbook whose stem (cell B2) is `chars` x's, member by member.

    The stem streams into the zip a megabyte at a time, so the test never holds it in memory,
    and packs about 1,000 to 1: a 32 MiB stem makes a file of about 33 KB.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("xl/workbook.xml", _WORKBOOK), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                           ("xl/worksheets/sheet1.xml", _SHEET)):
            archive.writestr(name, text)
        with archive.open("xl/sharedStrings.xml", "w") as member:
            member.write(b'<?xml version="1.0" encoding="UTF-8"?><sst '
                         b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
            left = chars
            while left:
                step = min(left, MB)
                member.write(b"x" * step)
                left -= step
            member.write(b"</t></si></sst>")
    return path


@pytest.fixture
def openpyxl_calls(monkeypatch):
    """Record every time openpyxl is asked to open a workbook."""
    calls = []
    real = tabular.load_workbook

    def recording(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(tabular, "load_workbook", recording)
    return calls


def only_error(report) -> tuple[str, str]:
    assert report.questions == [] and len(report.problems) == 1, report.problems
    return report.errors[0].place, report.errors[0].message


def test_a_shared_string_bomb_is_refused_from_the_zip_directory_alone(tmp_path, openpyxl_calls):
    path = xlsx_with_long_stem(tmp_path / "题库文件.xlsx", 64 * MB)
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        report = read_bank(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert only_error(report) == (
        "题库文件.xlsx", "解压后的内容有 64.1 MB，超过上限 50 MB，不像是正常的题库文件；"
                        "请在 Excel 中删去多余的行和列（包括只设置了格式的空行），另存为新的 .xlsx 后再导入")
    assert openpyxl_calls == []
    assert peak < 2 * MB


def test_a_32_mib_stem_in_a_small_file_is_refused_before_openpyxl(tmp_path, openpyxl_calls):
    path = xlsx_with_long_stem(tmp_path / "bank.xlsx", 32 * MB)
    assert path.stat().st_size < 40_000
    assert only_error(read_bank(path)) == (
        "bank.xlsx", "其中一部分（xl/sharedStrings.xml，单元格里的文字）解压后有 32.1 MB，超过上限 20 MB，不像是正常的题库文件；"
                     "请在 Excel 中删去多余的行和列（包括只设置了格式的空行），另存为新的 .xlsx 后再导入")
    assert openpyxl_calls == []


def test_a_part_that_packs_far_tighter_than_a_sheet_is_refused(tmp_path, openpyxl_calls):
    path = xlsx_with_long_stem(tmp_path / "bank.xlsx", 8 * MB)
    place, message = only_error(read_bank(path))
    assert place == "bank.xlsx"
    assert message.startswith("其中一部分（xl/sharedStrings.xml，单元格里的文字）从 ")
    assert "字节解压成 8.1 MB（" in message and "倍），超过上限 100 倍，不像是正常的题库文件；" in message
    assert openpyxl_calls == []


def test_a_zip_of_too_many_parts_is_refused(tmp_path, openpyxl_calls):
    path = tmp_path / "bank.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for number in range(1_001):
            archive.writestr(f"xl/media/image{number}.png", b"")
    assert only_error(read_bank(path)) == (
        "bank.xlsx", "文件里有 1,001 个部分，超过上限 1,000 个，不像是正常的题库文件；"
                     "请在 Excel 中删去多余的行和列（包括只设置了格式的空行），另存为新的 .xlsx 后再导入")
    assert openpyxl_calls == []


def test_a_long_cell_is_refused_naming_row_and_column(tmp_path):
    path = xlsx_with_long_stem(tmp_path / "bank.xlsx", 5_000)
    assert only_error(read_bank(path)) == (
        "题目!第2行", "B 列：单元格有 5,000 个字符，超过上限 4,000 个字符，不像是题目内容；请检查这个单元格是否粘贴了多余的内容")


def test_a_cell_at_the_limit_is_read(tmp_path):
    report = read_bank(xlsx_with_long_stem(tmp_path / "bank.xlsx", 4_000))
    assert len(report.questions) == 1 and report.questions[0].stem == "x" * 4_000


def test_a_long_csv_cell_is_refused_naming_row_and_column(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text(f"题目,答案,解析\n好题,对,x\n长题,对,{'解' * 4_001}\n", encoding="utf-8")
    assert only_error(read_bank(path)) == (
        "第3行", "C 列：单元格有 4,001 个字符，超过上限 4,000 个字符，不像是题目内容；请检查这个单元格是否粘贴了多余的内容")


def test_a_csv_cell_past_the_csv_readers_own_limit_is_refused_not_raised(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text(f'题目,答案\n好题,对\n"少了右引号,对\n{"x" * 200_000}\n', encoding="utf-8")
    assert only_error(read_bank(path)) == (
        "第3行", f"这一行有单元格超过 {csv.field_size_limit():,} 个字符（上限 4,000 个字符），不像是题目内容；"
                 "请检查是否少了引号或粘贴了多余的内容")


def _csv_bank(count: int) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["题目", "答案", "解析"], *[[f"第{n}题是真的吗？", "对", "是。"] for n in range(count)]])
    return buffer.getvalue().encode("utf-8")


def test_more_question_rows_than_the_limit_are_refused_at_the_first_row_past_it(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_bytes(_csv_bank(MAX_QUESTION_ROWS + 1))
    assert only_error(read_bank(path)) == (
        "第5002行", "题目超过上限 5,000 道，读到这一行时停止读取；一个题库用不了这么多题，请删去多余的行后再导入")
    path.write_bytes(_csv_bank(MAX_QUESTION_ROWS))
    report = read_bank(path)
    assert report.ok and len(report.questions) == MAX_QUESTION_ROWS


def test_the_row_limit_counts_every_sheet_together(tmp_path):
    workbook = Workbook()
    for title, count in (("第一表", 3_000), ("第二表", 2_001)):
        sheet = workbook.create_sheet(title)
        sheet.append(["题目", "答案"])
        for n in range(count):
            sheet.append([f"{title}第{n}题是真的吗？", "对"])
    path = tmp_path / "bank.xlsx"
    workbook.save(path)
    assert only_error(read_bank(path)) == (
        "第二表!第2002行", "题目超过上限 5,000 道，读到这一行时停止读取；一个题库用不了这么多题，请删去多余的行后再导入")


def test_a_file_larger_than_any_bank_is_refused_unread(tmp_path):
    path = tmp_path / "bank.txt"
    with path.open("wb") as handle:
        handle.truncate(21 * MB)
    assert only_error(read_bank(path)) == ("bank.txt", "文件有 21 MB，超过上限 20 MB，不像是题库文件；请确认选对了文件")
