"""Excel and CSV banks as people lay them out: two-row merged headers, one sheet per type, 必填 marks."""
from __future__ import annotations

from openpyxl import Workbook

from questions.importers import read_bank
from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, Question


def two_row_header(sheet, names_before, letters, names_after):
    """Write a header as people lay one out: 选项 merged across the letters under it, every other name merged down."""
    first = [*names_before, "选项", *[None] * (len(letters) - 1), *names_after]
    sheet.append(first)
    sheet.append([None] * len(names_before) + list(letters) + [None] * len(names_after))
    for column, name in enumerate(first, 1):
        if name == "选项":
            sheet.merge_cells(start_row=1, start_column=column, end_row=1, end_column=column + len(letters) - 1)
        elif name is not None:
            sheet.merge_cells(start_row=1, start_column=column, end_row=2, end_column=column)


def test_a_two_row_header_with_merged_cells(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "题库"
    two_row_header(sheet, ["题型", "题目"], "ABCD", ["答案", "解析"])
    sheet.append(["单选", "世界知识产权日是每年的哪一天？", "4月26日", "3月15日", "5月4日", "10月1日", "A", "2001年起设立。"])
    sheet.append(["多选", "专利法保护的发明创造包括？", "发明", "实用新型", "外观设计", "商业秘密", "ABC", "专利法第二条。"])
    sheet.append(["判断", "注册商标有效期为十年。", None, None, None, None, "对", "商标法第三十九条。"])
    sheet.append(["单选", "发明专利权的期限为？", "10年", "20年", None, None, "E", "专利法第四十二条。"])
    assert "A1:A2" in sheet.merged_cells and "C1:F1" in sheet.merged_cells
    path = tmp_path / "bank.xlsx"
    workbook.save(path)
    report = read_bank(path)

    assert report.places == ["题库!第3行", "题库!第4行", "题库!第5行", "题库!第6行"]
    single, multiple, judge, wrong = report.questions
    assert single == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月4日", "10月1日"),
                              ("A",), "2001年起设立。", 10, "")
    assert multiple.qtype == MULTIPLE and multiple.answer == ("A", "B", "C")
    assert judge == Question(JUDGE, "注册商标有效期为十年。", (), (True,), "商标法第三十九条。", 10, "")
    assert wrong.options == ("10年", "20年")
    assert [(p.place, p.message) for p in report.problems] == [
        ("题库!第6行", "答案「E」没有对应的选项（只有 A–B），请改为已有选项的字母")]


def test_one_sheet_per_type_named_for_its_type(tmp_path):
    workbook = Workbook()
    single = workbook.active
    single.title = "单选题"
    two_row_header(single, ["题目（必填）"], "ABCD", ["*答案", "解析"])
    single.append(["世界知识产权日是每年的哪一天？", "4月26日", "3月15日", "5月4日", "10月1日", "A", "2001年起设立。"])
    single.append(["发明专利权的期限为？", "10年", "20年", None, None, "C", "专利法第四十二条。"])
    multiple = workbook.create_sheet("多选题")
    multiple.append(["题目（必填）", "选项A（必填）", "选项B（必填）", "选项C", "选项D", "正确选项（必填，用/分隔）", "解析"])
    multiple.append(["专利法保护的发明创造包括？", "发明", "实用新型", "外观设计", "商业秘密", "A/B/C", "专利法第二条。"])
    multiple.append(["下列属于知识产权的有？", "专利权", "商标权", None, None, "A", "都是。"])
    judge = workbook.create_sheet("判断题")
    judge.append(["题目【必填】", "答案(正确/错误)", "解析"])
    judge.append(["注册商标有效期为十年。", "正确", "商标法第三十九条。"])
    fill = workbook.create_sheet("填空题")
    fill.append(["题目（必填）", "答案1（必填）", "答案2", "答案3", "解析"])
    fill.append(["知识产权维权援助电话是____。", "12330", "一二三三零", None, "拨打12330。"])
    essay = workbook.create_sheet("简答题")
    essay.append(["题目（必填）", "参考答案", "解析"])
    essay.append(["谈谈你对知识产权保护的理解。", "言之有理即可。", None])
    workbook.create_sheet("说明").append(["每种题型一个工作表，题型由工作表名决定。"])
    path = tmp_path / "exam-system-export.xlsx"
    workbook.save(path)
    report = read_bank(path)

    assert report.places == ["单选题!第3行", "单选题!第4行", "多选题!第2行", "多选题!第3行", "判断题!第2行",
                             "填空题!第2行"]
    first, _, multiple, one_right, judge, fill = report.questions
    assert first == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月4日", "10月1日"),
                             ("A",), "2001年起设立。", 10, "")
    assert multiple == Question(MULTIPLE, "专利法保护的发明创造包括？", ("发明", "实用新型", "外观设计", "商业秘密"),
                                ("A", "B", "C"), "专利法第二条。", 10, "")
    assert one_right.qtype == MULTIPLE
    assert judge == Question(JUDGE, "注册商标有效期为十年。", (), (True,), "商标法第三十九条。", 10, "")
    assert fill == Question(FILL, "知识产权维权援助电话是____。", (), ("12330", "一二三三零"), "拨打12330。", 10, "")
    assert [(p.level, p.place, p.message) for p in report.problems] == [
        ("error", "单选题!第4行", "答案「C」没有对应的选项（只有 A–B），请改为已有选项的字母"),
        ("warning", "多选题!第3行", "多选题只有一个正确答案「A」，请确认，或把题型改为单选"),
        ("warning", "工作表「简答题」", "本系统只能出单选、多选、判断、填空题，这个工作表的题型不在其中，没有读取；"
                                  "其中如有这几种题，请移到对应的工作表"),
    ]


def test_a_csv_with_a_two_row_header(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text("题型,题目,选项,,,,答案,解析\r\n"
                    ",,A,B,C,D,,\r\n"
                    "单选,世界知识产权日是每年的哪一天？,4月26日,3月15日,5月4日,10月1日,A,2001年起设立。\r\n"
                    "判断,注册商标有效期为十年。,,,,,错,商标法第三十九条。\r\n"
                    "单选,发明专利权的期限为？,10年,20年,,,C,专利法第四十二条。\r\n", encoding="gb18030")
    report = read_bank(path)

    assert report.places == ["第3行", "第4行", "第5行"]
    assert report.questions[0] == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月4日", "10月1日"),
                                           ("A",), "2001年起设立。", 10, "")
    assert report.questions[1].qtype == JUDGE and report.questions[1].answer == (False,)
    assert [(p.place, p.message) for p in report.problems] == [
        ("第5行", "答案「C」没有对应的选项（只有 A–B），请改为已有选项的字母")]


def test_a_gap_in_the_letters_of_a_two_row_header_is_named_at_the_header(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text("题目,选项,,,答案\n,A,B,D,\n世界知识产权日是？,4月26日,3月15日,5月4日,A\n", encoding="utf-8")
    report = read_bank(path)
    assert [(p.place, p.message) for p in report.errors] == [
        ("第1行", "表头缺少「选项C」列，选项列应从选项A起连续排列")]
    assert report.places == ["第3行"]
