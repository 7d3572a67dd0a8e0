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
