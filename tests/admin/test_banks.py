"""Upload a bank, see the CLI's check report, import only when clean, browse and search."""
from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select

from bot.storage.models import Bank, QuestionRow
from questions.limits import MB
from tests.questions.test_limits import xlsx_with_long_stem

HEADER = "题型,题目,选项A,选项B,选项C,选项D,答案,解析,分类\n"
GOOD_ROWS = ("单选,世界知识产权日是哪一天？,4月26日,3月15日,5月4日,10月1日,{answer},2001年起设立。,综合\n"
             "判断,发明专利权的期限为二十年。,,,,,对,专利法第四十二条。,专利\n"
             "多选,下列属于知识产权的有？,专利权,商标权,著作权,物权,ABC,物权不是。,综合\n")


def bank_csv(answer: str = "A") -> bytes:
    return (HEADER + GOOD_ROWS.format(answer=answer)).encode("utf-8")


def upload(client, token, data: bytes, name: str = "题库.csv", bank: str = "default"):
    return client.post("/admin/banks/check", data={"csrf_token": token, "bank": bank,
                                                   "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def uploaded_token(text: str) -> str:
    marker = 'name="token" value="'
    return text.split(marker, 1)[1].split('"', 1)[0]


def test_upload_with_an_error_shows_the_report_and_offers_no_import(staff, token, runtime):
    response = upload(staff, token, bank_csv("E"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "文件：题库.csv" in text
    assert "错误  第2行  答案「E」没有对应的选项（只有 A–D），请改为已有选项的字母" in text
    assert "检查未通过：1 个错误，0 个警告。请改正错误后再导入。" in text
    assert 'name="token"' not in text
    with runtime.db.reader() as session:
        assert session.scalars(select(Bank)).first() is None


def test_clean_upload_imports_and_the_file_is_gone(staff, token, runtime, app):
    response = upload(staff, token, bank_csv())
    text = response.get_data(as_text=True)
    assert "检查通过：没有错误，0 个警告。" in text
    upload_token = uploaded_token(text)
    stored = list((Path(app.instance_path) / "uploads").glob(f"{upload_token}*"))
    assert len(stored) == 1
    response = staff.post("/admin/banks/import", data={"csrf_token": token, "token": upload_token,
                                                       "bank": "default"})
    assert response.status_code == 302 and response.location == "/admin/banks/default"
    page = staff.get(response.location).get_data(as_text=True)
    assert "已导入题库「default」第 1 版，共 3 题：单选 1，多选 1，判断 1，填空 0" in page
    assert "注意：题库只有 3 题，少于每次答题的 5 题（quiz.questions_per_attempt）：每次答题将只有 3 题。" in page
    assert "注意：每次答题最多得 30 分，达不到获奖资格线 50 分（quiz.pass_score）" in page
    assert "答题使用中" in page and "世界知识产权日是哪一天？" in page
    assert not stored[0].exists()
    with runtime.db.reader() as session:
        assert len(session.scalars(select(QuestionRow)).all()) == 3
    again = staff.post("/admin/banks/import", data={"csrf_token": token, "token": upload_token})
    assert "找不到刚才上传的文件" in staff.get(again.location).get_data(as_text=True)


def test_import_refuses_a_token_from_elsewhere(staff, token):
    response = staff.post("/admin/banks/import", data={"csrf_token": token, "token": "../../etc/passwd"})
    assert "找不到刚才上传的文件" in staff.get(response.location).get_data(as_text=True)


def test_unsupported_file_type(staff, token):
    response = upload(staff, token, b"MZ...", name="virus.exe")
    assert "不是支持的格式" in staff.get(response.location).get_data(as_text=True)


def test_banks_list_search_and_active_bank(staff, token):
    upload_token = uploaded_token(upload(staff, token, bank_csv()).get_data(as_text=True))
    staff.post("/admin/banks/import", data={"csrf_token": token, "token": upload_token, "bank": "spare"})
    listing = staff.get("/admin/banks/").get_data(as_text=True)
    assert "spare" in listing and "第 1 版" in listing
    assert "配置 quiz.bank 指定的题库「default」还不存在" in listing
    found = staff.get("/admin/banks/spare?q=专利").get_data(as_text=True)
    assert "共 1 题符合条件" in found and "发明专利权的期限为二十年。" in found
    assert "世界知识产权日是哪一天？" not in found
    by_type = staff.get("/admin/banks/spare?type=多选").get_data(as_text=True)
    assert "下列属于知识产权的有？" in by_type and "共 1 题符合条件" in by_type
    assert staff.get("/admin/banks/nosuch").status_code == 404


def test_upload_of_a_decompression_bomb_is_refused_in_chinese_and_nothing_is_imported(staff, token, runtime,
                                                                                      tmp_path):
    bomb = xlsx_with_long_stem(tmp_path / "bomb.xlsx", 64 * MB).read_bytes()
    response = upload(staff, token, bomb, name="题库文件.xlsx")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert ("错误  题库文件.xlsx  解压后的内容有 64.1 MB，超过上限 50 MB，不像是正常的题库文件；"
            "请在 Excel 中删去多余的行和列（包括只设置了格式的空行），另存为新的 .xlsx 后再导入") in text
    assert "检查未通过：1 个错误" in text and 'name="token"' not in text
    with runtime.db.reader() as session:
        assert session.scalars(select(Bank)).first() is None


def test_upload_of_a_question_with_nine_options_is_a_report_not_a_500(staff, token, runtime):
    block = "\n".join(f"{letter}. 选项{letter}" for letter in "ABCDEFGH") + "\nＡ．多余"
    data = f'题目,选项,答案\n下列哪项正确？,"{block}",A\n'.encode("utf-8")
    response = upload(staff, token, data)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "错误  第2行  这道题有 9 个选项，最多支持 8 个（A–H）；微信里只能用字母 A–H 作答，请删去多余的选项" in text
    assert 'name="token"' not in text
    with runtime.db.reader() as session:
        assert session.scalars(select(Bank)).first() is None


def test_staff_download_the_template_from_the_console(staff):
    from openpyxl import load_workbook

    page = staff.get("/admin/banks/").get_data(as_text=True)
    assert "下载题库模板（Excel）" in page
    response = staff.get("/admin/banks/template.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    header = [c for c in next(load_workbook(io.BytesIO(response.data), read_only=True).active.iter_rows(values_only=True))]
    assert "题目" in header and "答案" in header
