"""The organizer's commands as they run them: init-db, menu push, simulate, and config errors."""
from __future__ import annotations

import datetime as dt

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from waitress.server import create_server

from bot.app import create_app
from bot.wechat.standin import create_standin
from tests.conftest import BASE_CONFIG, merge
from tests.scheduler.conftest import write_toml

ROOT = Path(__file__).resolve().parents[2]


def run_bot(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """Run `python -m bot --config CONFIG ...` as an organizer would (BOT_CONFIG from the shell ignored)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BOT_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)


def serve(app):
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return server


@pytest.fixture
def standin():
    server = serve(create_standin())
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def config_file(tmp_path, standin):
    data = merge(BASE_CONFIG, {"database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
                               "wechat": {"api_base_url": f"{standin}/cgi-bin/"},
                               "quiz": {"testers": ["sim-user-1"]}})
    return write_toml(tmp_path / "config.toml", data)


def test_init_db_is_idempotent_and_loads_the_sample_bank(config_file):
    first = run_bot(config_file, "init-db")
    assert first.returncode == 0, first.stderr
    assert "题库「default」为空，已导入示例题库" in first.stdout
    second = run_bot(config_file, "init-db")
    assert second.returncode == 0 and "示例题库" not in second.stdout
    listing = run_bot(config_file, "questions", "list")
    assert "default" in listing.stdout


def test_menu_push_creates_the_configured_menu(config_file, standin):
    result = run_bot(config_file, "menu", "push")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "菜单已创建：有奖竞答 | 更多"
    calls = requests.get(f"{standin}/_standin/calls", timeout=5).json()
    [create] = [c for c in calls if c["path"] == "menu/create"]
    assert create["body"] == {"button": [
        {"type": "click", "name": "有奖竞答", "key": "quiz"},
        {"name": "更多", "sub_button": [{"type": "click", "name": "活动安排", "key": "schedule"},
                                        {"type": "click", "name": "热线", "key": "hotline"}]}]}


def test_menu_push_reports_a_wechat_error(config_file, standin):
    requests.post(f"{standin}/_standin/fail", json={"path": "menu/create", "errcodes": [40018]}, timeout=5)
    result = run_bot(config_file, "menu", "push")
    assert result.returncode == 1
    assert "创建菜单失败：微信返回 40018" in result.stderr


def test_simulate_chats_with_the_running_server(config_file, tmp_path):
    assert run_bot(config_file, "init-db").returncode == 0
    from bot.config import load_config

    server = serve(create_app(load_config(str(config_file))))
    try:
        url = f"http://127.0.0.1:{server.effective_port}/wechat"
        result = run_bot(config_file, "simulate", "--url", url, stdin="12330\n答题\n/菜单 schedule\n/退出\n")
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "欢迎关注！" in out  # the simulator follows first, like a new follower
    assert "知识产权维权援助热线：12330" in out
    assert "第1次答题开始！" in out and "第1/5题【" in out
    assert "活动安排（4月20日—4月26日）" in out


def test_simulate_says_when_the_server_is_not_running(config_file):
    result = run_bot(config_file, "simulate", "--url", "http://127.0.0.1:9/wechat", stdin="帮助\n")
    assert result.returncode == 1
    assert "请先在另一个终端运行 serve" in result.stderr


@pytest.mark.parametrize("change,message", [
    ({"quiz": {"questions_per_attempt": "ten"}}, "quiz.questions_per_attempt: 应为正整数，当前为 'ten'"),
    ({"wechat": {"encoding_aes_key": "short"}}, "wechat.encoding_aes_key: 应为空字符串（明文模式）或 43 个字符"),
    ({"activity": {"timezone": "Mars/Olympus"}}, "activity.timezone: 应为IANA 时区名"),
    ({"menu": [{"name": "答题", "key": "nope"}]}, "menu「答题」.key: 应为动作名"),
    ({"quiz": {"bnak": "default"}}, "quiz.bnak: 没有这个配置项，是否想写 quiz.bank？"),
    ({"server": {"port": 99999}}, "server.port: 应为 1–65535 之间的端口号，当前为 99999"),
    ({"database": {"url": "mysql://x"}}, "database.url: 应为sqlite:///instance/bot.db 或 postgresql+psycopg://"),
    # Sections other packages declare are checked when the file is loaded, the same way.
    ({"scheduler": {"embeded": False}}, "scheduler.embeded: 没有这个配置项，是否想写 scheduler.embedded？"),
    ({"export": {"rulle": "top"}}, "export.rulle: 没有这个配置项，是否想写 export.rule？"),
    ({"pushes": [{"key": "v1", "title": "微讲堂", "kind": "vidoe", "at": dt.datetime(2027, 4, 21, 20), "media_id": "m"}]},
     "pushes[1].kind: 应为video、article 或 text，当前为 'vidoe'"),
    ({"pushes": [{"key": "v1", "title": "微讲堂", "kind": "video", "at": dt.datetime(2027, 4, 21, 20), "mediaid": "m"}]},
     "pushes[1].mediaid: 没有这个配置项，是否想写 pushes[1].media_id？"),
    ({"schedular": {"embedded": False}}, "[schedular]: 没有这个配置节，是否想写 [scheduler]？"),
    ({"export": {"rule": "best"}}, "export.rule: 应为\"top\"（按成绩排名）或 \"lottery\"（合格者中抽奖），当前为 'best'"),
])
def test_a_bad_config_stops_with_one_line(tmp_path, change, message):
    data = merge(BASE_CONFIG, {"database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"}})
    data = merge(data, change)
    config = write_toml(tmp_path / "bad.toml", data)
    result = run_bot(config, "init-db")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"配置错误：{config}: ") and message in lines[0]


@pytest.mark.parametrize("edit,message", [
    (lambda text: text.replace("pass_score = 100", "pass_score = 100\npass_score = 90", 1), "同一项写了两次，请删掉其中一个"),
    (lambda text: text.replace('name = "', 'name "', 1), "这一行应为“名称 = 值”，缺少等号"),
    (lambda text: text.replace("[quiz]", "[quiz", 1), "配置节名称缺少右方括号 ]"),
])
def test_a_toml_syntax_error_is_told_in_chinese_with_its_line(tmp_path, edit, message):
    config = tmp_path / "typo.toml"
    config.write_text(edit((ROOT / "config.example.toml").read_text(encoding="utf-8")), encoding="utf-8")
    result = run_bot(config, "init-db")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"配置错误：{config}: TOML 语法错误：第 ") and "行第 " in line and line.endswith(message)


def test_a_missing_config_file_says_how_to_make_one(tmp_path):
    result = run_bot(tmp_path / "none.toml", "init-db")
    assert result.returncode == 2
    assert "找不到配置文件；可复制 config.example.toml 为 config.toml" in result.stderr


def test_serve_on_a_busy_port_says_so_in_one_line(config_file):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_bot(config_file, "serve", "--port", str(port), "--no-scheduler")
    assert result.returncode == 1
    assert f"无法在 127.0.0.1:{port} 启动" in result.stderr and "端口可能已被占用" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["serve", "standin"])
def test_a_port_out_of_range_is_refused_before_anything_starts(config_file, command):
    result = run_bot(config_file, command, "--port", "70000")
    assert result.returncode == 2
    assert "--port" in result.stderr and "1<=x<=65535" in result.stderr
    assert "Traceback" not in result.stderr


def _held_connections(port: int, count: int) -> list[socket.socket]:
    """Slow clients: each opens a connection and sends the start of a request it never finishes."""
    held = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /wechat HTTP/1.1\r\nHost: bot\r\nContent-Length: 100000\r\n\r\n<xml>")
        held.append(s)
    return held


def test_serve_keeps_answering_followers_while_200_slow_clients_hold_connections(config_file, tmp_path):
    """Issue 16 item 10: with 200 connections held open, every follower message is still answered."""
    from bot.wechat.simulator import WeChatSimulator, http_poster

    assert run_bot(config_file, "init-db").returncode == 0
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BOT_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config_file), "serve", "--port", str(port),
                             "--no-scheduler"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    held: list[socket.socket] = []
    try:
        assert "机器人已启动" in proc.stdout.readline().decode("utf-8")
        held = _held_connections(port, 200)
        wechat = WeChatSimulator(token="spamtest", post=http_poster(f"http://127.0.0.1:{port}/wechat", timeout=5))
        answered = [wechat.text(f"follower-{i}", "帮助") for i in range(8)]
        assert [r.status for r in answered] == [200] * 8
        assert all("回复以下关键词" in r.content for r in answered)
        for s in held:  # the slow clients are still being held, not dropped to make room
            s.sendall(b"<")
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(timeout=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PNG = b"\x89PNG\r\n\x1a\n"


def standin_calls(standin: str, path: str) -> list[dict]:
    return [c for c in requests.get(f"{standin}/_standin/calls", timeout=5).json() if c["path"] == path]


def test_channels_create_makes_a_permanent_code_and_saves_its_image(config_file, standin, tmp_path):
    result = run_bot(config_file, "channels", "create", "开幕式现场")
    assert result.returncode == 0, result.stderr
    image = tmp_path / "channels" / "ch-001.png"
    assert result.stdout.splitlines()[:2] == ["已创建渠道「开幕式现场」：场景值 ch-001（永久二维码）",
                                              f"二维码图片：{image}（可直接印刷）"]
    assert "EventKey 为 qrscene_ch-001" in result.stdout
    assert image.read_bytes().startswith(PNG)
    [create] = standin_calls(standin, "qrcode/create")
    assert create["body"] == {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "ch-001"}}}
    code = requests.get(f"{standin}/_standin/qrcodes", timeout=5).json()["ch-001"]
    assert f"二维码内容：{code['url']}" in result.stdout
    # The ticket has + / = in it: it reached showqrcode intact only because it was URL-encoded.
    [shown] = standin_calls(standin, "showqrcode")
    assert shown["query"] == {"ticket": code["ticket"]} and set("+/=") <= set(code["ticket"])

    again = run_bot(config_file, "channels", "create", " 开幕式现场 ")
    assert again.returncode == 1
    assert again.stderr.strip() == "渠道「开幕式现场」已存在（场景值 ch-001），不再重复创建；换一个名称，或查看已有的渠道码"
    assert len(standin_calls(standin, "qrcode/create")) == 1

    out = tmp_path / "某某中学.png"
    school = run_bot(config_file, "channels", "create", "某某中学", "--scene", "school-01", "--out", str(out))
    assert school.returncode == 0, school.stderr
    assert f"二维码图片：{out}（可直接印刷）" in school.stdout and out.read_bytes().startswith(PNG)

    listing = run_bot(config_file, "channels", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == "渠道码 2 个（合格分 50 分；不含测试账号）："
    assert lines[1].startswith("- 开幕式现场  场景值 ch-001，创建于 ")
    assert lines[2] == "  带来关注 0 人，扫码 0 次，参与答题 0 人，达到合格分 0 人"
    assert lines[3] == f"  图片：{image}"
    assert lines[4].startswith("- 某某中学  场景值 school-01") and lines[6] == f"  图片：{out}"


def test_channels_list_says_how_to_start(config_file, tmp_path):
    result = run_bot(config_file, "channels", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (f"还没有渠道码。用 python -m bot channels create 名称 创建；图片默认保存在 "
                                     f"{tmp_path / 'channels'}")


@pytest.mark.parametrize("args,message", [
    (["", "--scene", "a"], "渠道名称不能为空：请填写二维码放在哪里，如「开幕式现场」「某某中学」「抖音」"),
    (["抖音", "--scene", "x" * 65], "场景值应为 1–64 个英文字母、数字或 - _ .，如 ch-001、school-01，当前为 65 个字符"),
    (["抖音", "--scene", "抖音"], "场景值应为 1–64 个英文字母、数字或 - _ .，如 ch-001、school-01，当前为 '抖音'"),
    (["抖音", "--scene", "qrscene_1"], "场景值不能以 qrscene_ 开头"),
    (["抖" * 65], "渠道名称最多 64 个字，当前为 65 个字"),
    (["抖音", "--out", "douyin.gif"], "douyin.gif: 图片文件名应以 .png 或 .jpg 结尾，如 开幕式现场.png"),
    (["抖音", "--out", "no/such/folder/douyin.png"], "文件夹 no/such/folder 不存在，请先创建或换一个位置"),
])
def test_channels_create_refuses_bad_input_before_calling_wechat(config_file, standin, args, message):
    result = run_bot(config_file, "channels", "create", *args)
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert standin_calls(standin, "qrcode/create") == []


@pytest.mark.parametrize("errcode,message", [
    (45029, "创建渠道码失败：微信返回错误码 45029：永久二维码数量已达上限（每个公众号最多 10 万个）"),
    (48001, "创建渠道码失败：微信返回错误码 48001：公众号没有该接口权限：只有已认证的服务号能生成带参数二维码"),
    (-1, "创建渠道码失败：微信返回错误码 -1：微信系统繁忙，请稍后重试"),
    (61234, "创建渠道码失败：微信返回错误码 61234（queued failure）"),
])
def test_channels_create_tells_a_wechat_error_with_its_code(config_file, standin, errcode, message):
    requests.post(f"{standin}/_standin/fail", json={"path": "qrcode/create", "errcodes": [errcode]}, timeout=5)
    result = run_bot(config_file, "channels", "create", "抖音")
    assert result.returncode == 1
    assert result.stderr.strip() == message
    listing = run_bot(config_file, "channels", "list")
    assert listing.stdout.startswith("还没有渠道码。")


def test_channels_create_records_the_code_when_only_the_image_fails(config_file, standin):
    requests.post(f"{standin}/_standin/fail", json={"path": "showqrcode", "errcodes": [-1]}, timeout=5)
    result = run_bot(config_file, "channels", "create", "某企业")
    assert result.returncode == 0, result.stderr
    assert ("注意：二维码图片下载失败：微信返回错误码 -1：微信系统繁忙，请稍后重试；渠道已记录，可在后台“渠道”页重新下载图片。"
            in result.stdout)
    assert "  图片：未保存（可在后台“渠道”页下载）" in run_bot(config_file, "channels", "list").stdout


def test_channels_create_when_wechat_cannot_be_reached(tmp_path):
    data = merge(BASE_CONFIG, {"database": {"url": f"sqlite:///{tmp_path / 'bot.db'}"}})
    config = write_toml(tmp_path / "config.toml", data)
    result = run_bot(config, "channels", "create", "抖音")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("创建渠道码失败：")


def test_channels_create_names_the_image_by_what_it_holds(config_file, tmp_path):
    result = run_bot(config_file, "channels", "create", "抖音", "--out", str(tmp_path / "douyin.jpg"))
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "douyin.png"  # the stand-in's images are PNG (WeChat's JPEG)
    assert f"二维码图片：{saved}（可直接印刷）" in result.stdout
    assert "注意：微信给的是 PNG 图片，已保存为 douyin.png（不是 douyin.jpg）" in result.stdout
    assert saved.read_bytes().startswith(PNG) and not (tmp_path / "douyin.jpg").exists()
