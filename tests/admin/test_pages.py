"""The dashboard's figures and charts, and no secret on any page."""
from __future__ import annotations

import re

from tests.admin.conftest import SECRETS
from tests.admin.test_banks import bank_csv, upload


def test_dashboard_counts_and_charts(staff, players, wechat):
    wechat.event("fan-1", "subscribe")
    text = staff.get("/admin/").get_data(as_text=True)
    stat = dict((label, int(num)) for num, label in re.findall(
        r'<span class="num">(\d+)</span><span>([^<]+)</span>', text))
    assert stat["参与答题人数"] == 3 and stat["答题次数"] == 3 and stat["完成答题次数"] == 3
    assert stat["活动期间新增关注"] == 1
    assert "平均最好成绩（分）" in text and ">40.0<" in text
    assert text.count("<svg") == 2 and "最好成绩分布" in text
    assert "《专利保护那些事》" in text and "04-21 周三 20:00" in text
    assert "https://" not in text.split("</head>")[0] and "http://" not in text


def test_no_secret_on_any_page(staff, token, players):
    pages = ["/admin/", "/admin/banks/", "/admin/pushes/", "/admin/results/", "/simulator/",
             "/admin/pushes/video-1/send", "/admin/banks/default"]
    bodies = [staff.get(path).get_data(as_text=True) for path in pages]
    bodies.append(upload(staff, token, bank_csv("E")).get_data(as_text=True))
    bodies.append(staff.post("/admin/results/draw", data={"csrf_token": token, "rule": "top", "tiers": "2"})
                  .get_data(as_text=True))
    for body in bodies:
        for secret in SECRETS:
            assert secret not in body


def test_pages_load_nothing_from_the_internet(staff, players):
    for path in ("/admin/", "/admin/banks/", "/admin/pushes/", "/admin/results/", "/simulator/", "/admin/login"):
        body = staff.get(path).get_data(as_text=True)
        assert not re.search(r'(src|href)="(https?:)?//', body), path


def test_bar_chart_is_escaped_svg():
    from bot.console.charts import bar_chart
    svg = str(bar_chart([("<b>", 3), ("50", 0)], title="分布"))
    assert svg.startswith("<svg") and "&lt;b&gt;" in svg and "<b>" not in svg
    assert "暂无数据" in str(bar_chart([], title="空"))


def test_error_pages_are_in_chinese(staff):
    missing = staff.get("/admin/nosuch-page")
    assert missing.status_code == 404 and "没有这个页面" in missing.get_data(as_text=True)
    wrong_method = staff.get("/admin/results/draw")
    assert wrong_method.status_code == 405 and "这个地址不能这样打开" in wrong_method.get_data(as_text=True)
    forged = staff.post("/admin/results/draw", data={"csrf_token": "forged"})
    body = forged.get_data(as_text=True)
    assert forged.status_code == 400 and "CSRF 校验失败" in body and "Bad Request" not in body
