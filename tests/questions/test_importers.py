"""Reading bank files of every format, including the messy ones organizers really have."""
from __future__ import annotations

import csv
import io
import string

import pytest
from openpyxl import Workbook

from questions.importers import read_bank
from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, Question


def write_xlsx(path, rows, title="题目", extra_sheets=()):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for name, sheet_rows in extra_sheets:
        other = workbook.create_sheet(name)
        for row in sheet_rows:
            other.append(row)
    workbook.save(path)
    return path


def csv_bytes(rows, encoding="utf-8", delimiter=",", newline="\r\n"):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue().encode(encoding)


def errors(report):
    return [(p.place, p.message) for p in report.errors]


HEADER = ["题型", "题目", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "分值", "分类"]
ROWS = [
    ["单选", "世界知识产权日是每年的哪一天？", "4月26日", "3月15日", "5月4日", "10月1日", "A", "2001年起设立。", 5, "综合"],
    ["多选题", "专利法保护的发明创造包括？", "发明", "实用新型", "外观设计", "商业秘密", "A、B、C", "专利法第二条。", "", "专利"],
    ["判断题", "注册商标有效期为十年。", "", "", "", "", "正确", "商标法第三十九条。", "", "商标"],
    ["填空题", "维权援助电话是____。", "", "", "", "", "12330", "拨打12330。", "", "综合"],
]


def test_xlsx_with_organizer_headers_reads_every_type(tmp_path):
    report = read_bank(write_xlsx(tmp_path / "bank.xlsx", [HEADER, *ROWS]), default_points=10)

    assert report.ok and report.problems == []
    assert report.places == ["题目!第2行", "题目!第3行", "题目!第4行", "题目!第5行"]
    single, multiple, judge, fill = report.questions
    assert single == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月4日", "10月1日"),
                              ("A",), "2001年起设立。", 5, "综合")
    assert multiple.qtype == MULTIPLE and multiple.answer == ("A", "B", "C") and multiple.points == 10
    assert judge.qtype == JUDGE and judge.answer == (True,) and judge.options == ()
    assert fill.qtype == FILL and fill.answer == ("12330",)


def test_xlsx_messy_cells_are_cleaned(tmp_path):
    header = [" 题目类型 ", "题干", "A", "B", "C", "正确答案*", "答案解析", "分数", "题目分类", "序号"]
    rows = [
        ["单项选择题", "  发明专利权的期限为\n多少年？ ", " 10年", "20年 ", "Ｃ．15年", " ｃ ", "第四十二条。", 5.0, "专利", 1],
        [None, "判断：外观设计保护十五年。", "对", "错", None, "A", "正确。", None, None, 2],
        [None, "多选：哪些是专利类型？", "发明", "实用新型", "商标", "Ａ，Ｂ", "见专利法。", None, None, 3],
        [None, "填空：热线是？", None, None, None, "12330 ｜ 一二三三零", "热线。", None, None, 4],
        [None, "判断题省略题型", None, None, None, "×", "错。", None, None, 5],
        [None, None, None, None, None, None, None, None, None, None],
    ]
    report = read_bank(write_xlsx(tmp_path / "messy.xlsx", [header, *rows]), default_points=10)

    assert report.ok, report.problems
    first, judge_with_options, multiple, fill, judge = report.questions
    assert first.stem == "发明专利权的期限为\n多少年？"
    assert first.options == ("10年", "20年", "Ｃ．15年") and first.answer == ("C",) and first.points == 5
    assert judge_with_options.qtype == JUDGE and judge_with_options.answer == (True,)
    assert multiple.qtype == MULTIPLE and multiple.answer == ("A", "B")
    assert fill.qtype == FILL and fill.answer == ("12330", "一二三三零")
    assert judge.qtype == JUDGE and judge.answer == (False,)


def test_xlsx_title_row_above_header_and_instruction_sheet_are_skipped(tmp_path):
    path = write_xlsx(tmp_path / "bank.xlsx", [["2027年知识产权宣传周竞答题库"], [], HEADER, ROWS[0]],
                      extra_sheets=[("说明", [["请在题目表中填写"]])])
    report = read_bank(path)
    assert report.ok and report.places == ["题目!第4行"]


def test_xlsx_unknown_column_is_a_warning_and_missing_answer_column_an_error(tmp_path):
    path = write_xlsx(tmp_path / "bank.xlsx", [["题目", "选项A", "选项B", "备注2"], ["问？", "甲", "乙", "x"]])
    report = read_bank(path)
    assert ("题目!第1行", "表头缺少「答案」列，请加一列「答案」填写正确答案") in errors(report)
    assert any("不认识的列「备注2」" in p.message for p in report.warnings)


def test_xlsx_without_header_is_one_error(tmp_path):
    report = read_bank(write_xlsx(tmp_path / "bank.xlsx", [["随便", "什么"], ["1", "2"]]))
    assert len(report.errors) == 1 and "找不到表头" in report.errors[0].message
    assert report.errors[0].place == "bank.xlsx"


def test_corrupt_xlsx_old_xls_missing_and_unknown_files_give_one_error(tmp_path):
    corrupt = tmp_path / "broken.xlsx"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    fake = tmp_path / "fake.xlsx"
    fake.write_text("题目,答案\n")
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    doc = tmp_path / "bank.docx"
    doc.write_bytes(b"x")
    for path, words in ((corrupt, "无法作为 Excel 文件打开"), (fake, "不是 Excel 工作簿"), (old, "另存为"),
                        (doc, "不支持 .docx"), (tmp_path / "missing.csv", "找不到这个文件")):
        report = read_bank(path)
        assert len(report.problems) == 1, path
        assert report.errors[0].place == path.name and words in report.errors[0].message


def test_csv_in_every_encoding_excel_produces(tmp_path):
    rows = [HEADER, *[[str(c) for c in row] for row in ROWS]]
    for encoding in ("utf-8", "utf-8-sig", "gb18030", "utf-16"):
        path = tmp_path / f"bank-{encoding}.csv"
        path.write_bytes(csv_bytes(rows, encoding))
        report = read_bank(path)
        assert report.ok, (encoding, report.problems)
        assert [q.stem for q in report.questions] == [row[1] for row in ROWS]
        assert report.places == ["第2行", "第3行", "第4行", "第5行"]


def test_csv_tab_separated_unix_line_ends_and_quoted_newlines(tmp_path):
    rows = [["题目", "A", "B", "C", "答案"], ["第一行\n第二行", "甲", "乙", "丙", "b"], ["判断题", "", "", "", "√"]]
    path = tmp_path / "bank.csv"
    path.write_bytes(csv_bytes(rows, "utf-8", delimiter="\t", newline="\n"))
    report = read_bank(path)
    assert report.ok
    assert report.questions[0].stem == "第一行\n第二行" and report.questions[0].answer == ("B",)
    assert report.questions[1].qtype == JUDGE
    assert report.places == ["第2行", "第3行"]


def test_csv_row_errors_name_the_row(tmp_path):
    rows = [["题型", "题目", "选项A", "选项B", "答案", "分值"],
            ["单选", "好题", "甲", "乙", "A", "5"],
            ["简答", "什么是专利？", "", "", "略", ""],
            ["单选", "分值写错", "甲", "乙", "A", "五分"]]
    path = tmp_path / "bank.csv"
    path.write_bytes(csv_bytes(rows, "gb18030"))
    report = read_bank(path)
    assert errors(report) == [
        ("第3行", "题型「简答」无法识别，请填写 单选、多选、判断 或 填空（也可留空，按答案自动判断）"),
        ("第4行", "分值「五分」不是正整数，请填写如 5 的数字，或留空使用默认分值"),
    ]


EXAM_TEXT = """知识产权知识竞赛试卷
（满分100分）

一、单项选择题（每题2分）
1. 世界知识产权日是每年的（ A ）。
A. 4月26日   B. 3月15日
C. 5月1日   D. 6月1日
解析：2001年起设立。

2、现行专利法规定，发明专利权的期限为 [单选题]
Ａ．10年
Ｂ．15年
C．20
年
D．第 3 页
正确答案：Ｃ
解析：专利法第四十二条，
自申请日起计算。
二、多项选择题（每题3分）
3）下列属于知识产权的有【多选题】
A、专利权
B、商标权
C、著作权
D、物权
【答案】ABC
【解析】物权不是知识产权。
三、判断题
4. 著作权自作品创作完成之日起产生。（√）
解析：自动产生。
5. 商标注册后永久有效。
答案：错
解析：有效期十年。
四、填空题
6. 知识产权维权援助电话是____。
答案：12330｜一二三三零
解析：12330。
"""


def test_exam_text_with_sections_tags_and_messy_lines(tmp_path):
    path = tmp_path / "试卷.txt"
    path.write_bytes(EXAM_TEXT.replace("\n", "\r\n").encode("utf-8-sig"))
    report = read_bank(path, default_points=10)

    assert report.ok, report.problems
    assert report.places == ["第5行", "第10行", "第20行", "第28行", "第30行", "第34行"]
    first, second, third, fourth, fifth, sixth = report.questions
    assert first == Question(SINGLE, "世界知识产权日是每年的（ ）。", ("4月26日", "3月15日", "5月1日", "6月1日"),
                             ("A",), "2001年起设立。", 2, "")
    assert second.options == ("10年", "15年", "20年", "第 3 页") and second.answer == ("C",)
    assert second.explanation == "专利法第四十二条，自申请日起计算。"
    assert third.qtype == MULTIPLE and third.answer == ("A", "B", "C") and third.points == 3
    assert third.stem == "下列属于知识产权的有"
    assert fourth.qtype == JUDGE and fourth.answer == (True,) and fourth.stem == "著作权自作品创作完成之日起产生。（ ）"
    assert fifth.qtype == JUDGE and fifth.answer == (False,)
    assert sixth.qtype == FILL and sixth.answer == ("12330", "一二三三零")
    assert [(p.place, p.message) for p in report.warnings] == [
        ("第10行", "选项D「第 3 页」像是复制时带进来的页码或网址，请确认")]


def test_wjx_export_with_type_tags_bullets_and_required_marks(tmp_path):
    text = ("1.您认为哪一项属于专利？[单选题] *\n○发明\n○商标\n答案：A\n解析：发明是专利的一种。\n\n"
            "2.下列哪些是知识产权？[多选题] *\n□专利权\n□商标权\n□物权\n正确答案：A,B\n解析：物权不是。\n")
    path = tmp_path / "wjx.txt"
    path.write_text(text, encoding="gb18030")
    report = read_bank(path)
    assert report.ok, report.problems
    assert report.questions[0] == Question(SINGLE, "您认为哪一项属于专利？", ("发明", "商标"), ("A",),
                                           "发明是专利的一种。", 10, "")
    assert report.questions[1].answer == ("A", "B") and report.questions[1].qtype == MULTIPLE


def test_exam_text_errors_name_the_starting_line(tmp_path):
    text = "1. 没有答案的题\nA. 甲\nB. 乙\n\n2. 答案越界\nA. 甲\nB. 乙\n答案：E\n3. 判断题（  ）\n答案：也许\n【题型】判断\n"
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")
    report = read_bank(path)
    assert errors(report) == [
        ("第1行", "没有答案，请填写正确选项的字母，如 A；多选题如 AC"),
        ("第5行", "答案「E」没有对应的选项（只有 A–B），请改为已有选项的字母"),
        ("第9行", "判断题答案「也许」无法识别，请填写 对 或 错（也可写 正确/错误、√/×）"),
    ]


def test_text_without_questions_is_an_error(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("这里只有一段说明文字。\n没有题号。\n", encoding="utf-8")
    report = read_bank(path)
    assert len(report.errors) == 1 and "没有找到题目" in report.errors[0].message


AIKEN = """What is the term of an invention patent in China?
A. 10 years
B. 20 years
C) 15 years
ANSWER: B

Which day is World Intellectual Property Day?
A. 26 April
B. 15 March
ANSWER: A

A question whose answer line was forgotten
A. yes
B. no

Another question
A. one
B. two
ANSWER: C
"""


def test_aiken_file_and_sniffed_txt(tmp_path):
    for name in ("moodle.aiken", "moodle.txt"):
        path = tmp_path / name
        path.write_text(AIKEN, encoding="utf-8")
        report = read_bank(path)
        assert report.questions[0] == Question(SINGLE, "What is the term of an invention patent in China?",
                                               ("10 years", "20 years", "15 years"), ("B",), "", 10, "")
        assert errors(report) == [
            ("第12行", "缺少「ANSWER: 字母」行，Aiken 格式每道题的选项后都要写答案"),
            ("第16行", "答案「C」没有对应的选项（只有 A–B），请改为已有选项的字母"),
        ]


GIFT = """// IP week questions
$CATEGORY: $course$/top/专利

::Q1:: 发明专利权的期限是多少年？ {
  =20年 # 正确，自申请日起计算。
  ~10年 # 那是实用新型。
  ~15年
}

::Q2:: 外观设计专利权的期限为十五年。{T#错了#对，2021年6月1日起。}

::Q3:: 知识产权维权援助电话是？ {=12330 =一二三三零 ####拨打12330。}

::Q4:: 哪些是专利类型？ {
  ~%50%发明
  ~%50%实用新型
  ~%-100%商标
}

世界知识产权日是 {=4月26日 ~3月15日} 这一天。

::Q6:: 圆周率约为多少？ {#3.14:0.01}

::Q7:: 把法律和客体配对 { =专利法 -> 发明 =商标法 -> 商标 }

::Q8:: 谈谈你对知识产权的理解。 {}

这是一段说明文字，不是题目。

::Q10:: 1 \\= 1 是 \\{真的\\}？{TRUE}
"""


def test_gift_common_part_and_unsupported_questions_reported_by_line(tmp_path):
    path = tmp_path / "moodle.gift"
    path.write_text(GIFT, encoding="utf-8")
    report = read_bank(path)
    q1, q2, q3, q4, q5, q10 = report.questions
    assert q1 == Question(SINGLE, "发明专利权的期限是多少年？", ("20年", "10年", "15年"), ("A",),
                          "自申请日起计算。", 10, "专利")
    assert q2.qtype == JUDGE and q2.answer == (True,) and q2.explanation == "2021年6月1日起。"
    assert q3.qtype == FILL and q3.answer == ("12330", "一二三三零") and q3.explanation == "拨打12330。"
    assert q4.qtype == MULTIPLE and q4.answer == ("A", "B")
    assert q5.stem == "世界知识产权日是 ____ 这一天。" and q5.answer == ("A",)
    assert q10.stem == "1 = 1 是 {真的}？" and q10.answer == (True,)
    assert [(p.place, p.message.split("本系统")[0]) for p in report.errors] == [
        ("第22行", "GIFT 的数值题（{#…}）"),
        ("第24行", "GIFT 的配对题（{=… -> …}）"),
        ("第26行", "GIFT 的问答题（{} 中没有答案）"),
        ("第28行", "GIFT 的说明文字（没有 {…} 答案部分）"),
    ]


def test_gift_sniffed_from_txt(tmp_path):
    path = tmp_path / "export.txt"
    path.write_text("::Q1:: 商标有效期十年。{T}\n", encoding="utf-8")
    report = read_bank(path)
    assert report.questions[0].answer == (True,)


def test_gift_questions_without_a_blank_line_between_are_reported(tmp_path):
    path = tmp_path / "joined.gift"
    path.write_text("商标有效期十年。{T}\n作品须登记才受保护。{F}\n", encoding="utf-8")
    report = read_bank(path)
    assert errors(report) == [("第1行", "这里有两道题连在一起（出现了两个 {…}），GIFT 格式的题目之间要空一行")]


def test_all_options_in_one_cell(tmp_path):
    rows = [["题目", "选项", "答案", "解析"],
            ["专利类型？", "A.发明  B.实用新型  C.商标", "AB", "第二条。"],
            ["有效期？", "A、10年\nB、20\n年", "B", "第三十九条。"]]
    report = read_bank(write_xlsx(tmp_path / "bank.xlsx", rows))
    assert report.ok, report.problems
    assert report.questions[0].options == ("发明", "实用新型", "商标") and report.questions[0].qtype == MULTIPLE
    assert report.questions[1].options == ("10年", "20年")


def _too_many(count: int) -> str:
    return f"这道题有 {count} 个选项，最多支持 8 个（A–H）；微信里只能用字母 A–H 作答，请删去多余的选项"


NINE = ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬"]
MANY_OPTIONS = [
    ("exam.txt", "说明\n1. 下列哪项正确？\n" + "".join(f"{letter}. {text}\n" for letter, text in zip("ABCDEFGH", NINE))
     + "○ 壬\n答案：A\n", "第2行", 9),
    ("repeated.txt", "1. 下列哪项正确？\n" + "A. 选项\n" * 30 + "答案：B\n", "第1行", 30),
    ("inline.txt", "1. 下列哪项正确？\nA. 甲  B. 乙  C. 丙  D. 丁\nＥ．戊  Ｆ．己  Ｇ．庚  Ｈ．辛\nA、壬  B、癸\n答案：A\n",
     "第1行", 10),
    ("moodle.aiken", "下列哪项正确？\n" + "".join(f"{letter}. 选项{letter}\n" for letter in string.ascii_uppercase)
     + "ANSWER: K\n", "第1行", 26),
    ("moodle.gift", "下列哪项正确？ {=" + " ~".join(f"选项{n}" for n in range(12)) + "}\n", "第1行", 12),
    ("block.csv", "题目,选项,答案\n下列哪项正确？,\"前言\n" + "\n".join(f"{letter}. {text}" for letter, text in
                                                              zip("ABCDEFGH", NINE)) + "\",A\n", "第2行", 9),
]


@pytest.mark.parametrize("name, text, place, count", MANY_OPTIONS, ids=[m[0] for m in MANY_OPTIONS])
def test_more_than_eight_options_in_any_format_is_an_error_at_the_question(tmp_path, name, text, place, count):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert errors(read_bank(path)) == [(place, _too_many(count))]


def test_more_than_eight_options_in_one_excel_cell_is_an_error_at_the_row(tmp_path):
    block = "\n".join(f"({letter}) 选项{letter}" for letter in "ABCDEFGH") + "\n（Ａ）再来一个"
    path = write_xlsx(tmp_path / "bank.xlsx", [["题目", "选项", "答案"], ["好题", "A.甲 B.乙", "A"], ["坏题", block, "A"]])
    assert errors(read_bank(path)) == [("题目!第3行", _too_many(9))]


def test_letters_after_h_in_exam_text_do_not_warn_about_the_sequence(tmp_path):
    path = tmp_path / "exam.txt"
    path.write_text("1. 下列哪项正确？\n" + "".join(f"{letter}. {letter}\n" for letter in "ABCDEFGH") + "A. 又一个\n答案：A\n",
                    encoding="utf-8")
    report = read_bank(path)
    assert [(p.place, p.message) for p in report.problems if "字母不连续" in p.message] == []
    assert errors(report) == [("第1行", _too_many(9))]


def test_a_file_with_no_questions_names_the_formats_tried_the_first_line_and_the_template(tmp_path):
    path = tmp_path / "通知.txt"
    path.write_text("\n\n这是一份会议通知\n请各单位于周五前报送材料\n", encoding="utf-8")
    report = read_bank(path)
    [problem] = report.errors
    assert problem.place == "通知.txt"
    assert "试过这些格式：Excel/CSV 表格" in problem.message and "腾讯问卷，都没有读出题目" in problem.message
    assert "第3行「这是一份会议通知」既不是题目也不是表头。" in problem.message
    assert problem.message.endswith("请下载题库模板（后台“题库”页的“下载题库模板”，或命令 python -m bot questions template "
                                    "模板.xlsx），照着填写后再导入")
