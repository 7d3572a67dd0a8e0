"""The organizers' commands as they see them: output lines, exit codes and what gets stored."""
from __future__ import annotations

import csv
import io

from click.testing import CliRunner
from openpyxl import Workbook

from bot.quiz.banks import load_questions
from bot.commands.questions import questions
from questions.limits import MB
from tests.questions.test_limits import xlsx_with_long_stem

HEADER = ["题型", "题目", "选项A", "选项B", "选项C", "选项D", "答案", "解析"]
GOOD = [
    ["单选", "世界知识产权日是哪一天？", "4月26日", "3月15日", "5月4日", "10月1日", "A", "2001年起。"],
    ["多选", "专利类型有？", "发明", "实用新型", "外观设计", "商标", "ABC", "第二条。"],
    ["判断", "商标有效期十年。", "", "", "", "", "对", "第三十九条。"],
    ["填空", "维权援助电话？", "", "", "", "", "12330", "12330。"],
]


def write_xlsx(path, rows):
    workbook = Workbook()
    workbook.active.title = "题目"
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return str(path)


def run(args, obj):
    return CliRunner().invoke(questions, args, obj=obj, catch_exceptions=False)


def test_template_then_check_without_a_database(tmp_path, offline_state):
    state = offline_state
    out = tmp_path / "模板.xlsx"
    result = run(["template", str(out)], state)
    assert result.exit_code == 0 and "已生成模板" in result.output
    result = run(["check", str(out)], state)
    assert result.exit_code == 0
    assert "共 4 题：单选 1，多选 1，判断 1，填空 1" in result.output
    assert result.output.strip().endswith("检查通过：没有错误，0 个警告。")


def test_check_lists_every_problem_with_its_place_and_exits_1(tmp_path, offline_state):
    rows = [HEADER, GOOD[0],
            ["单选", "答案越界", "甲", "乙", "丙", "丁", "E", "x"],
            ["判断", "判断无法识别", "", "", "", "", "也许", "x"],
            ["单选", "只有一个选项", "甲", "", "", "", "A", "x"],
            ["单选", "", "甲", "乙", "", "", "A", "x"],
            ["多选", "没有答案", "甲", "乙", "", "", "", "x"],
            GOOD[0],
            ["单选", "没有解析", "甲", "乙", "", "", "A", ""]]
    result = run(["check", write_xlsx(tmp_path / "bank.xlsx", rows)], offline_state)
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [
        "共 8 题：单选 6，多选 1，判断 1，填空 0",
        "错误  题目!第3行  答案「E」没有对应的选项（只有 A–D），请改为已有选项的字母",
        "错误  题目!第4行  判断题答案「也许」无法识别，请填写 对 或 错（也可写 正确/错误、√/×）",
        "错误  题目!第5行  选择题至少需要两个选项，现在只有 1 个",
        "错误  题目!第6行  题目为空，请填写题干",
        "错误  题目!第7行  没有答案，请填写正确选项的字母，如 A；多选题如 AC",
        "错误  题目!第8行  与 题目!第2行 的题目重复（题干和选项都相同），请删除其中一道",
        "警告  题目!第9行  没有解析，答错时无法向答题者说明理由，建议补充「解析」",
        "检查未通过：6 个错误，1 个警告。请改正错误后再导入。",
    ]


def test_import_refuses_a_file_with_errors_and_stores_nothing(tmp_path, cli_state):
    path = write_xlsx(tmp_path / "bank.xlsx", [HEADER, GOOD[0], ["单选", "坏题", "甲", "乙", "", "", "C", "x"]])
    result = run(["import", path], cli_state)
    assert result.exit_code == 1
    assert "错误  题目!第3行  答案「C」没有对应的选项（只有 A–B）" in result.output
    assert result.output.strip().endswith("未导入：请先改正以上 1 个错误。")
    result = run(["list"], cli_state)
    assert "还没有题库" in result.output


def test_import_list_reimport_and_export_round_trip(tmp_path, cli_state):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *GOOD])
    path = tmp_path / "题库.csv"
    path.write_bytes(buffer.getvalue().encode("gb18030"))

    result = run(["import", str(path)], cli_state)
    assert result.exit_code == 0, result.output
    assert "已导入题库「default」第 1 版，共 4 题：单选 1，多选 1，判断 1，填空 1" in result.output
    assert "新开始的答题将从中抽题" in result.output
    # The test config asks for 10 questions of 10 points and a pass score of 100: this bank cannot give that.
    assert "注意：题库只有 4 题，少于每次答题的 10 题（quiz.questions_per_attempt）：每次答题将只有 4 题。" in result.output
    assert ("注意：每次答题最多得 40 分，达不到获奖资格线 100 分（quiz.pass_score）：没有人能获得抽奖资格。"
            "请补充题目或调低 quiz.pass_score。") in result.output

    result = run(["import", str(path), "--bank", "练习"], cli_state)
    assert "注意：答题使用的是题库「default」（配置 quiz.bank），不是「练习」" in result.output

    result = run(["import", str(path)], cli_state)
    assert "已导入题库「default」第 2 版" in result.output
    assert "上一版的 4 道题已停用；正在进行的答题仍使用开始时抽到的题目。" in result.output

    lines = run(["list"], cli_state).output.splitlines()
    assert lines[0].startswith("default（答题使用）  第 2 版") and lines[0].endswith("导入自 题库.csv")
    assert lines[1] == "    共 4 题：单选 1，多选 1，判断 1，填空 1"
    assert lines[2].startswith("练习  第 1 版")
    assert lines[-1].startswith("注意：每次答题最多得 40 分，达不到获奖资格线 100 分")

    out = tmp_path / "export.xlsx"
    result = run(["export", "default", str(out)], cli_state)
    assert result.exit_code == 0 and "已导出题库「default」4 题" in result.output
    result = run(["import", str(out), "--bank", "copy"], cli_state)
    assert result.exit_code == 0
    with cli_state.db.reader() as session:
        assert load_questions(session=session, bank_name="copy") == load_questions(session=session,
                                                                                   bank_name="default")


def test_export_of_a_missing_bank_fails(tmp_path, cli_state):
    result = run(["export", "nope", str(tmp_path / "x.xlsx")], cli_state)
    assert result.exit_code == 1 and "题库「nope」不存在" in result.output


def test_list_says_when_the_quiz_bank_is_missing(cli_state):
    assert "配置 quiz.bank 指定的题库「default」还不存在" in run(["list"], cli_state).output


def test_a_bank_that_fits_the_quiz_gets_no_warning():
    from types import SimpleNamespace

    from bot.quiz.banks import fit_warnings
    from questions.model import Question

    quiz = SimpleNamespace(questions_per_attempt=3, pass_score=30, default_points=10, draw_types={"判断": 1})
    bank = [Question(qtype="单选", stem=f"题{i}", options=("a", "b"), answer=("A",)) for i in range(3)]
    assert fit_warnings(quiz, bank) == ["quiz.draw_types 要求每次抽 1 道判断题，题库只有 0 道。"]
    quiz.draw_types = {}
    assert fit_warnings(quiz, bank) == []
    assert fit_warnings(quiz, []) == []


def test_check_and_import_refuse_a_decompression_bomb_and_store_nothing(tmp_path, cli_state):
    path = str(xlsx_with_long_stem(tmp_path / "题库文件.xlsx", 64 * MB))
    refusal = ("错误  题库文件.xlsx  解压后的内容有 64.1 MB，超过上限 50 MB，不像是正常的题库文件；"
               "请在 Excel 中删去多余的行和列（包括只设置了格式的空行），另存为新的 .xlsx 后再导入")
    result = run(["check", path], cli_state)
    assert result.exit_code == 1 and refusal in result.output.splitlines()
    result = run(["import", path], cli_state)
    assert result.exit_code == 1 and refusal in result.output.splitlines()
    assert result.output.strip().endswith("未导入：请先改正以上 1 个错误。")
    assert "还没有题库" in run(["list"], cli_state).output


def test_check_of_a_question_with_nine_options_names_the_row_instead_of_a_traceback(tmp_path, offline_state):
    block = "\n".join(f"{letter}. 选项{letter}" for letter in "ABCDEFGH") + "\nA. 多余"
    rows = [["题目", "选项", "答案"], ["下列哪项正确？", block, "A"]]
    result = run(["check", write_xlsx(tmp_path / "bank.xlsx", rows)], offline_state)
    assert result.exit_code == 1
    assert ("错误  题目!第2行  这道题有 9 个选项，最多支持 8 个（A–H）；微信里只能用字母 A–H 作答，请删去多余的选项"
            in result.output.splitlines())
