"""GIFT read as Moodle's own importer (question/format/gift/format.php) reads it."""
from __future__ import annotations

from questions.importers import read_bank
from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, Question

# Shaped like a Moodle export (a comment line and a ::title:: on each question, one tab before each
# answer, general feedback last) and like the examples in Moodle's question/format/gift/examples.txt.
EXPORT = """// 2027 知识产权宣传周 题库（Moodle 导出）
$CATEGORY: $course$/top/知识产权/专利

// question: 101  name: 发明专利期限
::发明专利期限::[html]<p>现行专利法规定，发明专利权的期限为<b>多少年</b>？</p>{
\t=20年#正确！
\t~%50%15年#那是外观设计专利权的期限。
\t~10年#那是实用新型专利权的期限。
\t####<p>专利法第四十二条：发明专利权的期限为二十年，自申请日起计算。</p>
}

// question: 102  name: 专利类型
::专利类型::[markdown]下列哪些属于专利法保护的**发明创造**？{
\t~%50%发明#对，发明是其中之一。
\t~%50%实用新型#对，实用新型也是。
\t~%-100%商标#商标由商标法保护。
}

// question: 103  name: 维权电话
::维权电话::知识产权维权援助电话是 {
\t=12330#正确！
\t=%50%12345#这是政务服务便民热线，不是专门的知识产权热线。
\t=%0%110#这是报警电话。
} 。

$CATEGORY: $course$/top/知识产权/商标

// question: 201  name: 商标期限
::商标期限::[plain]注册商标的有效期为<十年>，自核准注册之日起计算。{TRUE#错了。#对，商标法第三十九条。}

// question: 202  name: 驰名商标
::驰名商标::驰名商标须经注册才受保护。{F#未注册的驰名商标也受保护，见商标法第十三条。}
"""


def test_a_moodle_export_reads_as_moodle_reads_it(tmp_path):
    path = tmp_path / "moodle.gift"
    path.write_text(EXPORT, encoding="utf-8")
    report = read_bank(path)

    assert report.places == ["第5行", "第13行", "第20行", "第29行", "第32行"]
    single, multiple, fill, true, false = report.questions
    # One "=" and ~%50% weights: Moodle makes a single-answer question, right answer the "=" one.
    # The general feedback (####) is what every player reads, so it is the explanation.
    assert single == Question(SINGLE, "现行专利法规定，发明专利权的期限为多少年？", ("20年", "15年", "10年"), ("A",),
                              "专利法第四十二条：发明专利权的期限为二十年，自申请日起计算。", 10, "专利")
    # No "=": multiple answers, the ones with positive weight.
    assert multiple == Question(MULTIPLE, "下列哪些属于专利法保护的发明创造？", ("发明", "实用新型", "商标"), ("A", "B"),
                                "发明是其中之一。\n实用新型也是。", 10, "专利")
    # Only "=" answers: short answer, a fill-in; the 0% answer only carries feedback for a wrong guess.
    assert fill == Question(FILL, "知识产权维权援助电话是 ____ 。", (), ("12330", "12345"), "", 10, "专利")
    # [plain] text is shown as written; a true/false explains with the feedback for a right answer.
    assert true == Question(JUDGE, "注册商标的有效期为<十年>，自核准注册之日起计算。", (), (True,),
                            "商标法第三十九条。", 10, "商标")
    assert false == Question(JUDGE, "驰名商标须经注册才受保护。", (), (False,),
                             "未注册的驰名商标也受保护，见商标法第十三条。", 10, "商标")
    assert [(p.level, p.place, p.message) for p in report.problems] == [
        ("warning", "第5行", "选项B（50%）在 Moodle 中得部分分；本系统的单选题只有 = 标出的选项A算对，选其他选项得 0 分"),
        ("warning", "第20行", "答案「12345」在 Moodle 中只得 50% 的分；本系统的填空题没有部分得分，"
                              "答「12345」也算全对；如果不该算对，请删去这个答案"),
        ("warning", "第20行", "没有解析，答错时无法向答题者说明理由，建议补充「解析」"),
    ]


ESCAPES = r"""::比分\: 时间:: 商标法第五十七条\: 未经许可使用与注册商标\{相同\}的商标，是否侵权？{T}

::Q2::下列哪个等式成立？\n（单选）{
     ~ \= 2 + 2
     = \= 2 + 3#\= 2 + 3 是对的。
     ~ 10\:30 \#3 \~ 4
}

::Q3:: 源程序放在 D\:\\new 目录下，反斜杠写作 \\ 吗？{=是}
"""


def test_escapes_are_read_and_give_no_false_warnings(tmp_path):
    path = tmp_path / "escapes.gift"
    path.write_text(ESCAPES, encoding="utf-8")
    report = read_bank(path)

    colon, choice, backslash = report.questions
    assert colon.stem == "商标法第五十七条: 未经许可使用与注册商标{相同}的商标，是否侵权？" and colon.answer == (True,)
    assert choice.stem == "下列哪个等式成立？\n（单选）"
    assert choice.options == ("= 2 + 2", "= 2 + 3", "10:30 #3 ~ 4") and choice.answer == ("B",)
    assert choice.explanation == "= 2 + 3 是对的。"
    # An escaped backslash is one backslash, and does not make the "n" after it a line break.
    assert backslash.stem == "源程序放在 D:\\new 目录下，反斜杠写作 \\ 吗？" and backslash.answer == ("是",)
    assert report.errors == []
    assert [p.message for p in report.warnings if "没有解析" not in p.message] == []


BROKEN = """::two right:: 世界知识产权日是哪一天？{=4月26日 =4月23日 ~3月15日}

::no right:: 哪些是专利类型？{~发明 ~实用新型 ~商标}

::weight after equals:: 哪些是专利类型？{=%50%发明 ~%50%实用新型 ~商标}

::no credit:: 热线是？{=%0%110 =%-50%119}

::essay with feedback:: 谈谈你对商标的理解。{####可以从商标的作用谈起。}

::open:: 商标有效期十年吗？{T

::close:: 商标有效期十年吗？T}

$CATEGORY: 综合
// 大小写不同，Moodle 仍当作判断题读
::lower case:: 著作权自作品创作完成之日起产生。{true}
"""


def test_broken_questions_are_reported_at_their_line_with_what_to_write(tmp_path):
    path = tmp_path / "broken.gift"
    path.write_text(BROKEN, encoding="utf-8")
    report = read_bank(path)
    braces = "GIFT 的答案要写在一对 {…} 里；题目里要显示花括号时，请写成 \\{ 和 \\}"
    assert [(p.place, p.message) for p in report.errors] == [
        ("第1行", "选项A、B都是满分答案：在 Moodle 里这是「选其中任何一个都得满分」的单选题，"
                 "本系统的单选题只能有一个正确答案；请只留一个用 = 标出，其余改成 ~"),
        ("第3行", "没有标出正确答案：单选题用 = 标出正确选项，多选题用 ~%50% 这样的正分权重标出每个正确选项"),
        ("第5行", "选择题里「=%50%」的权重不起作用：= 标出的选项总是满分，部分得分的选项要写成「~%50%选项」，正确答案只写 ="),
        ("第7行", "没有得分的答案：填空题用 = 写出正确答案，几个都算对时写成 {=答案一 =答案二}"),
        ("第9行", "GIFT 的问答题（{} 中没有答案）本系统不支持，请改成单选、多选、判断或填空题，或删掉这道题"),
        ("第11行", "缺少右花括号「}」：" + braces),
        ("第13行", "缺少左花括号「{」：" + braces),
    ]
    assert report.questions == [Question(JUDGE, "著作权自作品创作完成之日起产生。", (), (True,), "", 10, "综合")]
    assert report.places == ["第17行"]
