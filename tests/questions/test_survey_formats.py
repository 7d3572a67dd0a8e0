"""Reading the formats of the survey platforms organizers use: 问卷星 (text, pasted papers, JSONL) and 腾讯问卷."""
from __future__ import annotations

import pytest

from questions.importers import read_bank
from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, Question


def read(tmp_path, text, name="bank.txt", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return read_bank(path, default_points=10)


def errors(report):
    return [(p.place, p.message) for p in report.errors]


def unsupported_wjx(label):
    return (f"问卷星的「{label}」本系统不支持（微信里只能答单选、多选、判断和填空题），"
            "请改成这四种题型之一，或删掉这道题")


WJX_BATCH = """2027年知识产权宣传周线上有奖竞答

1. 世界知识产权日是每年的哪一天？(A) [单选题] (2分)
4月26日
3月15日
5月1日
6月1日
解析：世界知识产权组织决定从2001年起将每年4月26日定为世界知识产权日。

2. 我国专利法保护的发明创造包括哪些？（ABC）[多选题]（3分）
发明
实用新型
外观设计
商业秘密
解析：专利法第二条。

3. 注册商标的有效期为十年，自核准注册之日起计算。(对) [判断题] (1分)
解析：商标法第三十九条。

4. 著作权自作品创作完成之日起自动产生。(B) [判断题]
正确
错误
解析：著作权自动产生，无须登记。

5. 知识产权维权援助与举报投诉电话是____。(12330|一二三三零) [填空题] (2分)
解析：遇到侵权假冒可拨打12330。

=== 分页 ===

6. 依照现行专利法，实用新型专利权的期限为(B)年。[单选题]（选填）
5
10
15
20
解析：专利法第四十二条。
"""


def test_wjx_exam_batch_reads_every_type_with_answers_and_points(tmp_path):
    report = read(tmp_path, WJX_BATCH.replace("\n", "\r\n"), encoding="gb18030")

    assert report.problems == []
    assert report.places == ["第3行", "第10行", "第17行", "第20行", "第25行", "第30行"]
    single, multiple, judge, judge_by_letter, fill, blank_in_stem = report.questions
    assert single == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月1日", "6月1日"),
                              ("A",), "世界知识产权组织决定从2001年起将每年4月26日定为世界知识产权日。", 2, "")
    assert multiple == Question(MULTIPLE, "我国专利法保护的发明创造包括哪些？", ("发明", "实用新型", "外观设计", "商业秘密"),
                                ("A", "B", "C"), "专利法第二条。", 3, "")
    assert judge == Question(JUDGE, "注册商标的有效期为十年，自核准注册之日起计算。", (), (True,),
                             "商标法第三十九条。", 1, "")
    assert judge_by_letter.answer == (False,) and judge_by_letter.options == () and judge_by_letter.points == 10
    assert fill == Question(FILL, "知识产权维权援助与举报投诉电话是____。", (), ("12330", "一二三三零"),
                            "遇到侵权假冒可拨打12330。", 2, "")
    assert blank_in_stem.stem == "依照现行专利法，实用新型专利权的期限为（ ）年。"
    assert blank_in_stem.options == ("5", "10", "15", "20") and blank_in_stem.answer == ("B",)


WJX_BATCH_BROKEN = """1. 世界知识产权日是每年的哪一天？(A) [单选题] (2分)
4月26日
3月15日

2. 现行专利法规定，发明专利权的期限为多少年？(E) [单选题] (2分)
10年
15年
20年
25年

3. 下列属于知识产权的有 [多选题]
专利权
商标权

4. 把下列法律按施行先后排序 [排序题]
专利法
商标法

5. 商标的有效期是多少年？(A) [单选题] (0.5分)
10年
20年

6. 植物新品种权归哪个部门审批？(A) [单选题]

7. 著作权须经登记才受保护。(错) [判断题]
"""


def test_wjx_exam_batch_problems_name_the_line_that_holds_them(tmp_path):
    report = read(tmp_path, WJX_BATCH_BROKEN)

    assert errors(report) == [
        ("第5行", "答案「E」没有对应的选项（只有 A–D），请改为已有选项的字母"),
        ("第11行", "没有答案，请填写正确选项的字母，如 A；多选题如 AC"),
        ("第15行", unsupported_wjx("排序题")),
        ("第19行", "分值「0.5」不是正整数，请填写如 5 的数字，或留空使用默认分值"),
        ("第23行", "这道单选题下面没有选项：问卷星的写法是从题干的下一行起每行写一个选项（不写字母），题与题之间空一行"),
    ]
    assert report.questions[0].options == ("4月26日", "3月15日")
    assert report.questions[-1] == Question(JUDGE, "著作权须经登记才受保护。", (), (False,), "", 10, "")


WJX_SURVEY = """知识产权知识问卷

感谢您参与本次知识产权宣传周活动！

1. 世界知识产权日是每年的哪一天？[单选题]
4月26日
3月15日
5月1日
6月1日

2. 我国专利法保护的发明创造包括哪些？[多选题]
发明
实用新型
外观设计
商业秘密
植物新品种

=== 分页 ===

3. 注册商标的有效期为十年。[判断题]
正确
错误

4. 实用新型专利权的期限为多少年？[单选题]
5年
10年
15年
20年

5. 您对本次活动有什么建议？[填空题]（选填）

6. 请为本次活动打分[量表题]
1~5
"""

SURVEY_MESSAGE = (
    "这是问卷星问卷文本（「1. 题目[单选题]」下每行一个选项），读到 5 道题："
    "单选 2 道（各 4 个选项）、多选 1 道（5 个选项）、判断 1 道、填空 1 道；"
    "问卷文本里没有正确答案，这些题都不能导入。请补上答案：按问卷星考试「批量添加题目」的写法，"
    "把答案写在题干后的括号里，如「1. 世界知识产权日是每年的哪一天？(A) [单选题] (2分)」，多选题写 (AC)，"
    "判断题写 (对) 或 (错)，填空题写答案文字，如 (12330)；也可以用题库模板（后台“题库”页下载，或 questions template 命令生成）填写"
)


def test_wjx_survey_text_is_one_message_that_names_the_format_and_counts_the_options(tmp_path):
    report = read(tmp_path, WJX_SURVEY)

    assert report.questions == [] and report.warnings == []
    assert errors(report) == [("整个文件", SURVEY_MESSAGE), ("第32行", unsupported_wjx("量表题"))]


def test_wjx_survey_text_with_some_answers_added_is_the_batch_format(tmp_path):
    text = WJX_SURVEY.replace("哪一天？[单选题]", "哪一天？(A)[单选题]")
    report = read(tmp_path, text)

    assert report.questions[0] == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月1日", "6月1日"),
                                           ("A",), "", 10, "")
    assert report.questions[4].stem == "您对本次活动有什么建议？"
    assert errors(report) == [
        ("第11行", "没有答案，请填写正确选项的字母，如 A；多选题如 AC"),
        ("第20行", "没有答案，判断题请填写 对 或 错"),
        ("第24行", "没有答案，请填写正确选项的字母，如 A；多选题如 AC"),
        ("第30行", "没有答案，填空题请填写正确答案，几个都算对的答案用 | 隔开"),
        ("第32行", unsupported_wjx("量表题")),
    ]


WJX_KEY = """2027年知识产权知识竞赛（参考答案）

1.以下哪种权利属于知识产权？()[单选题]*
A.物权 B.专利权(正确答案) C.债权 D.人格权
2.下列说法正确的是()[多选题]*
A.知识产权法属于民法(正确答案) B.商标注册后永久有效
C.著作权自作品创作完成之日起产生（正确答案） D.专利权没有期限
3.外观设计专利权的期限为十五年。()[判断题]*
A.对(正确答案) B.错
4.我国现行商标法规定，注册商标的有效期为（ ）年。()[单选题]*
A.5
B.10(正确答案)
C.15
D.20
解析：商标法第三十九条。
5.知识产权维权援助电话是____。()[填空题]*
正确答案：12330
"""


def test_wjx_paper_pasted_back_reads_the_marked_options(tmp_path):
    report = read(tmp_path, WJX_KEY)

    assert errors(report) == []
    assert report.places == ["第3行", "第5行", "第8行", "第10行", "第16行"]
    single, multiple, judge, trademark, fill = report.questions
    assert single == Question(SINGLE, "以下哪种权利属于知识产权？", ("物权", "专利权", "债权", "人格权"), ("B",), "", 10, "")
    assert multiple == Question(MULTIPLE, "下列说法正确的是",
                                ("知识产权法属于民法", "商标注册后永久有效", "著作权自作品创作完成之日起产生", "专利权没有期限"),
                                ("A", "C"), "", 10, "")
    assert judge == Question(JUDGE, "外观设计专利权的期限为十五年。", (), (True,), "", 10, "")
    assert trademark == Question(SINGLE, "我国现行商标法规定，注册商标的有效期为（ ）年。", ("5", "10", "15", "20"), ("B",),
                                 "商标法第三十九条。", 10, "")
    assert fill == Question(FILL, "知识产权维权援助电话是____。", (), ("12330",), "", 10, "")


def test_wjx_paper_pasted_back_with_two_marks_on_a_single_choice_or_none(tmp_path):
    text = ("1.以下哪种权利属于知识产权？()[单选题]*\nA.专利权(正确答案) B.商标权(正确答案) C.物权\n"
            "2.下列哪项是专利类型？()[单选题]*\nA.发明 B.商标 C.作品\n")
    report = read(tmp_path, text)

    assert errors(report) == [
        ("第1行", "单选题只能有一个答案，现在是「AB」；如果是多选题，请把题型改为多选"),
        ("第3行", "没有答案，请填写正确选项的字母，如 A；多选题如 AC"),
    ]


WJX_JSONL = "\n".join([
    '{"qtype":"问卷基础信息","title":"2027年知识产权知识竞赛","introduction":"请认真作答","atype":6}',
    '{"qtype":"考试单选","title":"世界知识产权日是每年的哪一天？","select":["4月26日","3月15日","5月1日","6月1日"],'
    '"correctselect":["A"],"quizscore":"5","answeranalysis":"2001年起设立。","isquiz":"1"}',
    '{"qtype":"考试多选","title":"我国专利法保护的<b>发明创造</b>包括哪些？","select":["A. 发明","B. 实用新型","C. 外观设计",'
    '"D. 商业秘密"],"correctselect":["A","B","C"],"quizscore":"6","answeranalysis":"专利法第二条。"}',
    '{"qtype":"分页栏"}',
    '{"qtype":"考试判断","title":"注册商标的有效期为十年。","select":["对","错"],"correctselect":["对"],"quizscore":"2",'
    '"answeranalysis":"商标法第三十九条。"}',
    '{"qtype":"考试单项填空","title":"知识产权维权援助电话是____。","correctselect":["12330","一二三三零"],"quizscore":"2",'
    '"answeranalysis":"拨打12330。"}',
    '{"q_type":"考试单选","q_title":"实用新型专利权的期限为多少年？","select":[{"item_title":"10年","item_correct":true},'
    '{"item_title":"20年"}],"quizscore":5,"answeranalysis":"专利法第四十二条。"}',
    '{"qtype":"考试多选","title":"下列属于知识产权的有","select":["专利权","商标权","物权"],"correctselect":["专利权","商标权"],'
    '"quizscore":"4","answeranalysis":"物权不是知识产权。"}',
])


def test_wjx_jsonl_reads_exam_lines(tmp_path):
    report = read(tmp_path, WJX_JSONL, name="exam.jsonl")

    assert report.problems == []
    assert report.places == ["第2行", "第3行", "第5行", "第6行", "第7行", "第8行"]
    single, multiple, judge, fill, old_fields, by_text = report.questions
    assert single == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月1日", "6月1日"), ("A",),
                              "2001年起设立。", 5, "")
    assert multiple == Question(MULTIPLE, "我国专利法保护的发明创造包括哪些？", ("发明", "实用新型", "外观设计", "商业秘密"),
                                ("A", "B", "C"), "专利法第二条。", 6, "")
    assert judge == Question(JUDGE, "注册商标的有效期为十年。", (), (True,), "商标法第三十九条。", 2, "")
    assert fill == Question(FILL, "知识产权维权援助电话是____。", (), ("12330", "一二三三零"), "拨打12330。", 2, "")
    assert old_fields == Question(SINGLE, "实用新型专利权的期限为多少年？", ("10年", "20年"), ("A",), "专利法第四十二条。", 5, "")
    assert by_text.answer == ("A", "B")


def test_wjx_jsonl_sniffed_from_txt_before_gift(tmp_path):
    line = '{"qtype":"考试判断","title":"1+1=2 是正确的。","select":["对","错"],"correctselect":["A"],"answeranalysis":"是。"}'
    report = read(tmp_path, line + "\n", name="export.txt")
    assert report.problems == [] and report.questions[0].answer == (True,)


def test_wjx_jsonl_problems_are_named_by_line(tmp_path):
    lines = [
        '{"qtype":"问卷基础信息","title":"竞赛"}',
        '{"qtype":"考试单选","title":"答案越界","select":["甲","乙"],"correctselect":["E"],"answeranalysis":"无"}',
        '{"qtype":"考试简答","title":"谈谈你对知识产权的理解","quizscore":"10"}',
        '{"qtype":"考试单选","title":"截断的行","select":["甲",',
        '["不是对象"]',
        '{"title":"没有题型"}',
        '{"qtype":"考试单选","title":"没有选项","select":[],"correctselect":["A"]}',
        '{"qtype":"考试多选","title":"答案不是选项","select":["甲","乙","丙"],"correctselect":["物权"],"answeranalysis":"无"}',
        '{"qtype":"考试单选","title":"选项不是列表","select":"甲,乙"}',
    ]
    report = read(tmp_path, "\n".join(lines), name="exam.jsonl")

    assert errors(report) == [
        ("第2行", "答案「E」没有对应的选项（只有 A–B），请改为已有选项的字母"),
        ("第3行", "题型「考试简答」本系统不支持或无法识别：微信里只能答 考试单选、考试多选、考试判断和考试单项填空，"
                 "请改成其中之一，或删掉这一行"),
        ("第4行", "这一行不是完整的 JSON（写到行尾还没有结束）；问卷星 JSONL 每行是一道题的 {…}，"
                 "请检查这一行是否被截断、多了换行或少了引号"),
        ("第5行", "这一行不是一道题：问卷星 JSONL 每行应是一个 {…} 对象，"
                 "如 {\"qtype\":\"考试单选\",\"title\":\"…\",\"select\":[…]}"),
        ("第6行", "这一行没有写题型（qtype），请写 \"qtype\":\"考试单选\" 等；"
                 "本系统能导入的题型：考试单选、考试多选、考试判断和考试单项填空"),
        ("第7行", "这道考试单选题没有选项：请在 select 里写出选项，如 \"select\":[\"4月26日\",\"3月15日\"]"),
        ("第8行", "答案「物权」不是选项字母，请填写 A–C 中的字母"),
        ("第9行", "select（选项）应是一个列表，如 \"select\":[\"4月26日\",\"3月15日\"]"),
    ]


TENCENT_ENGLISH = """IP Week Quiz

Which day is World Intellectual Property Day?[Single Choice][Answer: A][Score: 5][All](Since 2001)
A. 26 April
B. 15 March
C. 1 May
D. 1 June

Which of these are intellectual property rights?[Multiple Choice][Answer: A, B][Score: 3][Partial]
A. Patents
B. Trademarks
C. Property rights

A trademark registration lasts ten years.[True/False][Answer: A][Score: 2]
A. True
B. False

The IP assistance hotline is ____.[Fill-in-Blank][Answer: 12330][Score: 2]

Describe what a patent protects.[Essay][Score: 20][Manual]

Complete the two lines.[Multiple Fill-in-Blank][Answer: 1.Autumn wind, 2.Great waves][Score: 2, 3][ByBlank]
Trees grow in clusters, grasses flourish. ____, ____.
"""


def test_tencent_exam_text_with_english_labels(tmp_path):
    report = read(tmp_path, TENCENT_ENGLISH)

    assert report.places == ["第3行", "第9行", "第14行", "第18行"]
    single, multiple, judge, fill = report.questions
    assert single == Question(SINGLE, "Which day is World Intellectual Property Day?\nSince 2001",
                              ("26 April", "15 March", "1 May", "1 June"), ("A",), "", 5, "")
    assert multiple == Question(MULTIPLE, "Which of these are intellectual property rights?",
                                ("Patents", "Trademarks", "Property rights"), ("A", "B"), "", 3, "")
    assert judge == Question(JUDGE, "A trademark registration lasts ten years.", (), (True,), "", 2, "")
    assert fill == Question(FILL, "The IP assistance hotline is ____.", (), ("12330",), "", 2, "")
    assert errors(report) == [
        ("第20行", "腾讯问卷的简答题（[Essay]）要人工评分，在微信里无法作答判分，本系统不支持；"
                  "请改成单选、多选、判断或填空题，或删掉这道题"),
        ("第22行", "腾讯问卷的多项填空题（[Multiple Fill-in-Blank]，答案有 2 个空）本系统不支持，一道填空题只收一个答案；"
                  "请拆成几道只有一个空的填空题，或删掉这道题"),
    ]


TENCENT_CHINESE = """2027年知识产权宣传周竞答

1. 世界知识产权日是每年的哪一天？[单选题][答案：A][分数：5]
A. 4月26日
B. 3月15日
C. 5月1日
D. 6月1日
解析：2001年起设立。

我国专利法保护的发明创造包括哪些？[多选题][答案：A,B,C][分数：6][解析：专利法第二条。]
A. 发明
B. 实用新型
C. 外观设计
D. 商业秘密

注册商标的有效期为十年。[判断题][答案：正确][分数：2]
A. 正确
B. 错误

知识产权维权援助电话是____。[填空题][答案：12330][分数：2]

谈谈你对知识产权保护的理解。[简答题][分数：10]

现行专利法规定，发明专利权的期限为多少年？[单选题][答案：E][分数：5]
A. 10年
B. 15年
C. 20年
D. 25年

请为本次活动打分[评分题][分数：1]
A. 1分
B. 2分
"""


def test_tencent_exam_text_with_chinese_labels_and_its_problems_by_line(tmp_path):
    report = read(tmp_path, TENCENT_CHINESE)

    single, multiple, judge, fill, out_of_range = report.questions
    assert single == Question(SINGLE, "世界知识产权日是每年的哪一天？", ("4月26日", "3月15日", "5月1日", "6月1日"), ("A",),
                              "2001年起设立。", 5, "")
    assert multiple == Question(MULTIPLE, "我国专利法保护的发明创造包括哪些？", ("发明", "实用新型", "外观设计", "商业秘密"),
                                ("A", "B", "C"), "专利法第二条。", 6, "")
    assert judge == Question(JUDGE, "注册商标的有效期为十年。", (), (True,), "", 2, "")
    assert fill == Question(FILL, "知识产权维权援助电话是____。", (), ("12330",), "", 2, "")
    assert out_of_range.options == ("10年", "15年", "20年", "25年")
    assert errors(report) == [
        ("第22行", "腾讯问卷的简答题（[简答题]）要人工评分，在微信里无法作答判分，本系统不支持；"
                  "请改成单选、多选、判断或填空题，或删掉这道题"),
        ("第24行", "答案「E」没有对应的选项（只有 A–D），请改为已有选项的字母"),
        ("第30行", "腾讯问卷的题型「评分题」本系统不支持或无法识别，微信里只能答单选、多选、判断和填空题；"
                  "请改成这四种题型之一（如 [单选题] 或 [Single Choice]），或删掉这道题"),
    ]


@pytest.mark.parametrize("text, stem", [
    ("1. 著作权自作品创作完成之日起产生。[判断题]（√）\n解析：自动产生。\n", "著作权自作品创作完成之日起产生。（ ）"),
    ("1. 哪一项属于专利？[单选题]\nA. 发明\nB. 商标\n答案：A\n", "哪一项属于专利？"),
    ("【答案：A】\n1. 哪一项属于专利？\nA. 发明\nB. 商标\n", "哪一项属于专利？"),
])
def test_exam_papers_with_labels_stay_with_the_exam_paper_reader(tmp_path, text, stem):
    report = read(tmp_path, text)
    assert report.questions[0].stem == stem
