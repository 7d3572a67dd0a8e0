"""Write the blank bank template and export banks in the same form."""
from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from questions.model import FILL, JUDGE, LETTERS, MULTIPLE, SINGLE, TYPES, Question

SHEET = "题目"
HEADER = ("题型", "题目", *(f"选项{letter}" for letter in LETTERS), "答案", "解析", "分值", "分类")
WIDTHS = {"题型": 8, "题目": 48, "答案": 10, "解析": 48, "分值": 8, "分类": 12}
OPTION_WIDTH = 18

EXAMPLES = (
    Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月4日", "10月1日"), ("A",),
             "世界知识产权组织决定从2001年起将每年4月26日定为世界知识产权日。", 10, "综合"),
    Question(MULTIPLE, "我国专利法保护的发明创造包括哪些？", ("发明", "实用新型", "外观设计", "商业秘密"),
             ("A", "B", "C"), "专利法第二条：发明创造是指发明、实用新型和外观设计。", 10, "专利"),
    Question(JUDGE, "外观设计专利权的期限为十五年，自申请日起计算。", (), (True,),
             "2020年修正的专利法将外观设计专利权的期限由十年延长为十五年。", 10, "专利"),
    Question(FILL, "知识产权维权援助与举报投诉电话是____。", (), ("12330",),
             "遇到侵权假冒可拨打12330求助或举报。", 10, "综合"),
)

INSTRUCTIONS = (
    "题库模板填写说明",
    "",
    "1. 在「题目」表中每行填写一道题，第一行是列名，请不要修改或删除；示例题可以直接删掉。",
    "2. 题型：单选、多选、判断、填空。也可以留空，系统按答案自动判断。",
    "3. 题目：题干文字，不能为空。",
    "4. 选项A～选项H：选择题至少填两个选项，从选项A起连续填写；判断题和填空题不填选项。",
    "5. 答案：单选填一个字母（如 A）；多选填几个字母（如 AC、A,C、A、C 均可）；"
    "判断填 对 或 错（也可写 正确/错误、√/×）；填空填正确答案，几个都算对时用 | 隔开（如 20|二十）。",
    "6. 解析：答题后显示给答题者的说明，建议每题都写。",
    "7. 分值：正整数；留空则使用配置文件中的默认分值（quiz.default_points）。",
    "8. 分类：可选，如 专利、商标、著作权，可按分类抽题。",
    "9. 题目和选项不宜过长：微信单条回复约 2000 字节（约 600 个汉字），超长会在检查时提示。",
    "",
    "填好后先检查，再导入：",
    "    python -m bot questions check 题库.xlsx",
    "    python -m bot questions import 题库.xlsx --bank default",
    "也可以导入 CSV（UTF-8 或 Excel 另存的 CSV）、从试卷或问卷星复制的文本（.txt），以及 Moodle 的 GIFT、Aiken 格式。",
)


def question_cells(question: Question) -> list:
    """Return a question's row in the template's column order."""
    if question.qtype == JUDGE:
        answer = "对" if question.answer == (True,) else "错"
    elif question.qtype == FILL:
        answer = "|".join(question.answer)
    else:
        answer = "".join(question.answer)
    options = list(question.options) + [""] * (len(LETTERS) - len(question.options))
    cells = [question.qtype, question.stem, *options, answer, question.explanation, question.points,
             question.category]
    return [None if cell == "" else cell for cell in cells]


def _style_header(sheet) -> None:
    for column, name in enumerate(HEADER, 1):
        cell = sheet.cell(row=1, column=column)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        sheet.column_dimensions[cell.column_letter].width = WIDTHS.get(name, OPTION_WIDTH)
    sheet.freeze_panes = "A2"


def write_template(path: str | Path) -> None:
    """Write a blank template: the header, one example per type and an instruction sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    sheet.append(HEADER)
    for question in EXAMPLES:
        sheet.append(question_cells(question))
    _style_header(sheet)
    choice = DataValidation(type="list", formula1='"' + ",".join(TYPES) + '"', allow_blank=True)
    choice.add("A2:A10000")
    sheet.add_data_validation(choice)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    notes = workbook.create_sheet("说明")
    for line in INSTRUCTIONS:
        notes.append([line])
    notes["A1"].font = Font(bold=True, size=14)
    notes.column_dimensions["A"].width = 110
    workbook.save(path)


def write_bank_xlsx(path: str | Path, questions: list[Question]) -> None:
    """Write questions in the template's form, so that importing the file gives them back."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET)
    for column, name in enumerate(HEADER, 1):
        sheet.column_dimensions[get_column_letter(column)].width = WIDTHS.get(name, OPTION_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.append(HEADER)
    for question in questions:
        sheet.append([_text_cell(sheet, value) for value in question_cells(question)])
    workbook.save(path)


def _text_cell(sheet, value):
    """Keep text that starts with "=" as text; Excel would otherwise take it for a formula."""
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value)
        cell.data_type = "s"
        return cell
    return value
