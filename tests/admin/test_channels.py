"""The channels page: create a code through a real stand-in, download its image, and the figures per channel."""
from __future__ import annotations

import datetime as dt
import html
import re
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from waitress.server import create_server

from bot.storage.models import Channel, ChannelScan, FollowerChannel
from bot.wechat.standin import create_standin
from tests.admin.conftest import PASSWORD

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def standin():
    server = create_server(create_standin(), host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def config_overrides(standin):
    return {"admin": {"password": PASSWORD, "max_failed_logins": 3, "lockout_minutes": 10},
            "quiz": {"testers": ["sim-user-1", "sim-user-2"]},
            "wechat": {"api_base_url": f"{standin}/cgi-bin/"}}


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run in a temporary folder: without a SQLite file, images go to instance/channels under the current one."""
    monkeypatch.chdir(tmp_path)


def create(staff, token, name, scene=""):
    return staff.post("/admin/channels/", data={"csrf_token": token, "name": name, "scene": scene})


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash[^"]*" role="status">([^<]+)</p>', page)]


def table_rows(page: str, heading: str) -> list[list[str]]:
    """The cells of the table under an <h2>, tags stripped."""
    section = page.split(f"<h2>{heading}</h2>", 1)[1].split("</table>", 1)[0]
    body = section.split("<tbody>", 1)[1]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def calls(standin, path):
    return [c for c in requests.get(f"{standin}/_standin/calls", timeout=5).json() if c["path"] == path]


def test_create_a_channel_code_and_download_its_image(staff, token, standin, runtime):
    response = create(staff, token, "开幕式现场")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/channels/")
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert flashes(page) == ["已创建渠道「开幕式现场」（场景值 ch-001），二维码图片已保存，可在下表下载印刷。"]
    [row] = table_rows(page, "各渠道效果")
    assert row[:6] == ["开幕式现场", "ch-001", "0", "0", "0", "0"]
    code = requests.get(f"{standin}/_standin/qrcodes", timeout=5).json()["ch-001"]
    assert code["url"] in page
    assert 'src="/admin/channels/ch-001/image"' in page
    with runtime.db.reader() as session:
        channel = session.scalars(select(Channel)).one()
    assert channel.ticket == code["ticket"]
    assert Path(channel.image_path).read_bytes().startswith(PNG)

    inline = staff.get("/admin/channels/ch-001/image")
    assert inline.status_code == 200 and inline.mimetype == "image/png" and inline.data.startswith(PNG)
    download = staff.get("/admin/channels/ch-001/image?download=1")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''%E5%BC%80%E5%B9%95" in disposition

    # Another web host (or a cleaned folder) lacks the file: it is fetched from WeChat again.
    Path(channel.image_path).unlink()
    again = staff.get("/admin/channels/ch-001/image")
    assert again.status_code == 200 and again.data.startswith(PNG)
    assert len(calls(standin, "showqrcode")) == 2

    assert create(staff, token, "开幕式现场").status_code == 302
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert flashes(page) == ["未创建：渠道「开幕式现场」已存在（场景值 ch-001），不再重复创建；换一个名称，或查看已有的渠道码"]
    assert len(calls(standin, "qrcode/create")) == 1


def test_a_chosen_scene_and_the_next_automatic_one(staff, token):
    create(staff, token, "某某中学", "school-01")
    create(staff, token, "ch-001 的主人", "ch-001")
    create(staff, token, "抖音")
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert [r[:2] for r in table_rows(page, "各渠道效果")] == [
        ["某某中学", "school-01"], ["ch-001 的主人", "ch-001"], ["抖音", "ch-003"]]


@pytest.mark.parametrize("name,scene,message", [
    ("", "", "未创建：渠道名称不能为空：请填写二维码放在哪里，如「开幕式现场」「某某中学」「抖音」"),
    ("   ", "", "未创建：渠道名称不能为空：请填写二维码放在哪里，如「开幕式现场」「某某中学」「抖音」"),
    ("抖音", "x" * 65, "未创建：场景值应为 1–64 个英文字母、数字或 - _ .，如 ch-001、school-01，当前为 65 个字符"),
    ("抖音", "抖音", "未创建：场景值应为 1–64 个英文字母、数字或 - _ .，如 ch-001、school-01，当前为 '抖音'"),
    ("抖音", "a b", "未创建：场景值应为 1–64 个英文字母、数字或 - _ .，如 ch-001、school-01，当前为 'a b'"),
    ("抖\x00音", "", "未创建：渠道名称不能含控制字符，请重新输入"),
    ("企" * 65, "", "未创建：渠道名称最多 64 个字，当前为 65 个字"),
])
def test_bad_input_is_refused_in_chinese(staff, token, standin, name, scene, message):
    response = create(staff, token, name, scene)
    assert response.status_code == 302
    assert flashes(staff.get("/admin/channels/").get_data(as_text=True)) == [message]
    assert calls(standin, "qrcode/create") == []


def test_a_form_without_its_csrf_token_is_refused(staff, standin):
    response = staff.post("/admin/channels/", data={"name": "抖音"})
    assert response.status_code == 400 and "CSRF 校验失败" in response.get_data(as_text=True)
    assert calls(standin, "qrcode/create") == []


@pytest.mark.parametrize("errcode,message", [
    (48001, "未创建：创建渠道码失败：微信返回错误码 48001：公众号没有该接口权限：只有已认证的服务号能生成带参数二维码"),
    (45029, "未创建：创建渠道码失败：微信返回错误码 45029：永久二维码数量已达上限（每个公众号最多 10 万个）"),
])
def test_a_wechat_error_is_shown_with_its_code(staff, token, standin, errcode, message):
    requests.post(f"{standin}/_standin/fail", json={"path": "qrcode/create", "errcodes": [errcode]}, timeout=5)
    assert create(staff, token, "抖音").status_code == 302
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert flashes(page) == [message] and "还没有渠道码。" in page


def test_when_the_image_fails_the_code_is_kept_and_can_be_fetched_later(staff, token, standin):
    requests.post(f"{standin}/_standin/fail", json={"path": "showqrcode", "errcodes": [-1]}, timeout=5)
    create(staff, token, "某企业")
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert flashes(page) == ["已创建渠道「某企业」（场景值 ch-001），但二维码图片下载失败：微信返回错误码 -1：微信系统繁忙，请稍后重试；"
                             "可稍后在下表点“下载图片”重试。"]
    assert "图片未保存" in page and 'src="/admin/channels/ch-001/image"' not in page
    download = staff.get("/admin/channels/ch-001/image?download=1")
    assert download.status_code == 200 and download.data.startswith(PNG)
    assert "图片未保存" not in staff.get("/admin/channels/").get_data(as_text=True)


def test_an_unknown_channel_image(staff):
    inline = staff.get("/admin/channels/nope/image")
    assert inline.status_code == 404 and inline.get_data(as_text=True) == "没有这个渠道码，请回到渠道页刷新"
    download = staff.get("/admin/channels/nope/image?download=1")
    assert download.status_code == 302
    assert flashes(staff.get("/admin/channels/").get_data(as_text=True)) == ["没有这个渠道码，请回到渠道页刷新"]


def brought(runtime, scans: dict[str, list[str]], first: dict[str, str]) -> None:
    """Record what the conversation engine records for channel codes: first channels and every follow or scan."""
    at = dt.datetime(2027, 4, 21, 3, 0)
    with runtime.db.session() as session:
        for openid, scene in first.items():
            session.add(FollowerChannel(openid=openid, scene=scene, at=at))
        for scene, openids in scans.items():
            for i, openid in enumerate(openids):
                session.add(ChannelScan(openid=openid, scene=scene, event="subscribe" if i == 0 else "scan", at=at))


def test_figures_per_channel_on_the_page_and_the_dashboard(staff, token, players, runtime, wechat):
    create(staff, token, "开幕式现场")
    create(staff, token, "某某中学", "school-01")
    wechat.event("fan-1", "subscribe")
    # p-alice and p-bob scored 50 (the pass score), p-carol 20; fan-1 never played; sim-user-1 is a tester.
    brought(runtime, first={"p-alice": "ch-001", "p-carol": "ch-001", "fan-1": "ch-001", "sim-user-1": "ch-001",
                            "p-bob": "school-01", "fan-2": "backoffice-7"},
            scans={"ch-001": ["p-alice", "p-carol", "fan-1", "sim-user-1", "p-alice"],
                   "school-01": ["p-bob", "p-bob", "p-alice"], "backoffice-7": ["fan-2"]})
    expected = [["开幕式现场", "ch-001", "3", "4", "2", "1"],
                ["某某中学", "school-01", "1", "3", "1", "1"],
                ["（未在本系统创建的渠道码）", "backoffice-7", "1", "1", "0", "0"]]
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert [r[:6] for r in table_rows(page, "各渠道效果")] == expected
    assert "不是本系统创建的码" in page
    dashboard = staff.get("/admin/").get_data(as_text=True)
    assert table_rows(dashboard, "渠道来源") == expected
    assert "http://" not in dashboard and dashboard.count("<svg") == 2


def test_the_dashboard_points_to_the_channels_page_before_any_code(staff):
    dashboard = staff.get("/admin/").get_data(as_text=True)
    assert "还没有渠道码。" in dashboard and 'href="/admin/channels/"' in dashboard


def test_a_subscription_account_is_warned_before_it_tries(staff):
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert "微信只允许已认证的服务号生成带参数二维码，订阅号会返回错误码 48001" in page


def test_a_follow_and_scans_through_a_code_reach_its_figures(staff, token, wechat):
    """End to end: the code made on this page, then WeChat's events for it through the webhook."""
    create(staff, token, "开幕式现场")
    create(staff, token, "抖音")
    wechat.event("fan-9", "subscribe", "qrscene_ch-001", extra={"Ticket": "t"})
    wechat.event("fan-9", "SCAN", "ch-001", extra={"Ticket": "t"})
    wechat.event("fan-9", "SCAN", "ch-002", extra={"Ticket": "t"})
    wechat.event("fan-8", "SCAN", "ch-002", extra={"Ticket": "t"})
    page = staff.get("/admin/channels/").get_data(as_text=True)
    assert [r[:6] for r in table_rows(page, "各渠道效果")] == [["开幕式现场", "ch-001", "1", "2", "0", "0"],
                                                            ["抖音", "ch-002", "1", "2", "0", "0"]]
