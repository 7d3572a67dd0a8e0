"""The template checks clean, and export then import gives the same bank."""
from __future__ import annotations

from openpyxl import load_workbook

from questions.importers import read_bank
from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, TYPES, Question
from questions.samples import IP_WEEK
from questions.template import HEADER, write_bank_xlsx, write_template


def test_template_has_header_one_example_per_type_and_instructions(tmp_path):
    path = tmp_path / "模板.xlsx"
    write_template(path)
    workbook = load_workbook(path)
    assert workbook.sheetnames == ["题目", "说明"]
    assert [c.value for c in workbook["题目"][1]] == list(HEADER)
    instructions = [row[0].value or "" for row in workbook["说明"].iter_rows()]
    assert any("判断填 对 或 错" in line for line in instructions)
    report = read_bank(path)
    assert report.ok and report.problems == []
    assert [q.qtype for q in report.questions] == list(TYPES)


def test_export_then_import_gives_the_same_bank(tmp_path):
    tricky = [
        Question(SINGLE, "=1+1 的结果？\n（第二行）", ("2", "=3", "0.5", "TRUE"), ("A",), "算式。\n第二段。", 7, "数学"),
        Question(MULTIPLE, "多选", tuple(f"选项{i}" for i in range(8)), ("B", "H"), "", 10, ""),
        Question(JUDGE, "判断对", (), (True,), "是", 1, ""),
        Question(JUDGE, "判断错", (), (False,), "否", 10, ""),
        Question(FILL, "填空", (), ("20", "二十", "20年"), "二十年", 10, "专利"),
    ]
    sample = read_bank(IP_WEEK).questions
    for questions in (tricky, sample):
        path = tmp_path / "export.xlsx"
        write_bank_xlsx(path, questions)
        again = read_bank(path)
        assert again.questions == questions
        assert again.errors == []
