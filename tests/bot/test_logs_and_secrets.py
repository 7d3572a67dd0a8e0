"""Audit: a whole week's work with every log record captured at DEBUG; no secret and no contact detail leaks.

A follower plays and leaves "张三 13800138000", staff import a bank, preview and send a push through
the console against the WeChat stand-in, draw winners and download the workbooks. Then: no log
record holds a secret, the access token, the phone number or the name; the request log has no
query string; no page or export holds a secret; nothing personal is shown without a login.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from click.testing import CliRunner
from openpyxl import load_workbook
from waitress.server import create_server

from bot.commands.questions import questions
from bot.config import ConfigError, parse_config
from bot.wechat.standin import create_standin
from exports.cli import export
from scheduler.cli import pushes
from tests.admin.conftest import csrf_from, login
from tests.bot.test_quiz_flow import TICKS, play
from tests.conftest import BASE_CONFIG

APP_ID = BASE_CONFIG["wechat"]["app_id"]
APP_SECRET = "app-5ecret-7f3e9a1c"
TOKEN = "tok3n4audit"
AES_KEY = "AuDiTkEy" + "0123456789" * 3 + "abcde"
PASSWORD = "pa55-w0rd-audit!"
SECRET_KEY = "flask-5ession-key-audit"
STAFF = "oStaffAudit01"
NAME, PHONE = "张三", "13800138000"
SAMPLE_BANK = Path(__file__).resolve().parents[2] / "questions" / "samples" / "ip_week.csv"


@pytest.fixture(scope="module")
def standin():
    server = create_server(create_standin(APP_ID, APP_SECRET), host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=server.run, name="standin-audit", daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def config_overrides(standin):
    return {"wechat": {"app_secret": APP_SECRET, "token": TOKEN, "encoding_aes_key": AES_KEY,
                       "api_base_url": f"{standin}/cgi-bin/", "staff_openids": [STAFF]},
            "admin": {"password": PASSWORD, "secret_key": SECRET_KEY}}


def issued_tokens(standin: str) -> set[str]:
    calls = requests.get(f"{standin}/_standin/calls", timeout=5).json()
    return {c["query"]["access_token"] for c in calls if c["query"].get("access_token")}


def workbook_text(data: bytes, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    book = load_workbook(path, read_only=True)
    return "\n".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for v in row if v is not None)


def cli(group, runtime, *args):
    obj = SimpleNamespace(config=runtime.config, db=runtime.db, runtime=runtime)
    result = CliRunner().invoke(group, list(args), obj=obj)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def week(runtime, wechat, client, standin, tmp_path, caplog):
    """Run the week's work with every record captured; return what staff saw and the secrets in play."""
    requests.post(f"{standin}/_standin/reset", timeout=5).raise_for_status()
    caplog.set_level(logging.DEBUG)
    outputs = [cli(questions, runtime, "import", str(SAMPLE_BANK))]

    wechat.event("p-audit", "subscribe", create_time=next(TICKS))
    wechat.text("p-audit", "答题", create_time=next(TICKS))
    play(wechat, runtime, "p-audit", correct=runtime.config.quiz.questions_per_attempt)
    assert wechat.text("p-audit", f"{NAME} {PHONE}", create_time=next(TICKS)).content.startswith("已登记")
    assert "138****8000" in wechat.text("p-audit", "领奖", create_time=next(TICKS)).content
    wechat.text("p-audit", "排名", create_time=next(TICKS))

    pages = {"/admin/login": client.get("/admin/login").get_data(as_text=True)}
    assert login(client, "wrong password").status_code == 401
    assert login(client, PASSWORD).status_code == 302
    token = csrf_from(client, "/admin/")
    for path in ("/admin/", "/admin/banks/", "/admin/banks/default", "/admin/pushes/", "/admin/pushes/video-1/send",
                 "/admin/results/", "/simulator/", "/healthz"):
        response = client.get(path)
        assert response.status_code == 200, path
        pages[path] = response.get_data(as_text=True)
    for path, form in (("/admin/pushes/video-1/preview", {"openid": STAFF}),
                       ("/admin/pushes/video-1/send", {"confirm": "yes"})):
        response = client.post(path, data={"csrf_token": token, **form})
        pages[path] = client.get(response.location).get_data(as_text=True)
    assert "已发送预览《专利保护那些事》" in pages["/admin/pushes/video-1/preview"]
    assert "已发送《专利保护那些事》" in pages["/admin/pushes/video-1/send"]
    draw = {"csrf_token": token, "rule": "top", "tiers": "1"}
    pages["/admin/results/draw"] = client.post("/admin/results/draw", data=draw).get_data(as_text=True)
    exports = {"winners": workbook_text(client.post("/admin/results/winners.xlsx", data=draw).data, tmp_path, "w.xlsx"),
               "results": workbook_text(client.get("/admin/results/results.xlsx").data, tmp_path, "r.xlsx")}
    outputs.append(cli(pushes, runtime, "preview", "video-1"))
    outputs.append(cli(export, runtime, "winners", str(tmp_path / "cli.xlsx"), "--count", "1"))
    exports["cli"] = workbook_text((tmp_path / "cli.xlsx").read_bytes(), tmp_path, "c.xlsx")

    tokens = issued_tokens(standin)
    assert tokens, "the pushes went through the stand-in with an access token"
    secrets = {"wechat.app_secret": APP_SECRET, "wechat.token": TOKEN, "wechat.encoding_aes_key": AES_KEY,
               "admin.password": PASSWORD, "admin.secret_key": SECRET_KEY,
               **{f"access token {i}": t for i, t in enumerate(sorted(tokens))}}
    return SimpleNamespace(pages=pages, exports=exports, outputs=outputs, secrets=secrets, records=caplog.records)


def formatted(record: logging.LogRecord) -> str:
    return logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)


def test_no_log_record_holds_a_secret_or_a_contact_detail(week):
    assert len(week.records) > 50
    leaks = [(what, formatted(r)[:200]) for r in week.records
             for what, value in (*week.secrets.items(), ("phone", PHONE), ("name", NAME))
             if value in formatted(r)]
    assert leaks == []


def test_request_log_lines_have_no_query_string(week):
    lines = [r.getMessage() for r in week.records if r.name == "bot.requests"]
    assert any(line.startswith("POST /wechat 200") for line in lines)
    assert not [line for line in lines if "?" in line or "signature" in line or "nonce" in line]


def test_pages_exports_and_command_output_hold_no_secret(week):
    shown = {**{f"page {p}": text for p, text in week.pages.items()},
             **{f"workbook {n}": text for n, text in week.exports.items()},
             **{f"command output {i}": text for i, text in enumerate(week.outputs)}}
    leaks = [(where, what) for where, text in shown.items() for what, value in week.secrets.items() if value in text]
    assert leaks == []


def test_contact_details_are_masked_on_pages_and_in_command_output(week):
    assert "138****8000" in week.pages["/admin/results/"]
    for where, text in (*week.pages.items(), *enumerate(week.outputs)):
        assert PHONE not in text, where
    assert PHONE in week.exports["winners"] and NAME in week.exports["winners"]  # the staff workbook


def test_nothing_personal_without_a_login(week, app):
    anonymous = app.test_client()
    for path in ("/admin/", "/admin/results/", "/admin/results/results.xlsx", "/admin/banks/", "/admin/pushes/",
                 "/admin/pushes/video-1/send"):
        response = anonymous.get(path)
        assert response.status_code in (302, 401, 403), path
        body = response.get_data(as_text=True)
        assert PHONE not in body and "138****8000" not in body and NAME not in body
    assert anonymous.post("/admin/results/winners.xlsx", data={"rule": "top", "tiers": "1"}).status_code in (
        302, 400, 401, 403)


@pytest.mark.parametrize("section,key,value", [
    ("wechat", "app_secret", 20270426123), ("wechat", "token", 98765), ("admin", "password", 20270426),
    ("admin", "secret_key", ["k3y"]), ("database", "url", "postgresql+psycopg//bot:Pa55word@db/bot"),
    ("wechat", "encoding_aes_key", "k" * 42),
])
def test_config_errors_name_the_key_but_never_show_a_secret(section, key, value):
    data = {**BASE_CONFIG, section: {**BASE_CONFIG.get(section, {}), key: value}}
    with pytest.raises(ConfigError) as error:
        parse_config(data, "audit.toml", environ={})
    message = str(error.value)
    assert f"{section}.{key}" in message
    assert str(value) not in message and "k3y" not in message and "Pa55word" not in message
