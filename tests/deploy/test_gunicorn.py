"""The web unit's command for real: gunicorn.conf.py loads, two workers answer /healthz and signed messages."""
from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from bench.attacks import Silent
from bot.conversation.engine import BUSY_TEXT
from bot.wechat.simulator import WeChatSimulator, http_poster

from tests.deploy.conftest import ROOT, TOKEN, exec_start, free_port, installed, run_unit, unit_env, worker_pids


def check_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    command = installed(exec_start("ipweek-web.service"))
    return subprocess.run([command[0], "--check-config", *command[1:]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_gunicorn_check_config_loads_the_app(tmp_path):
    env = unit_env(f"sqlite:///{tmp_path / 'bot.db'}", free_port())
    assert check_config(env).returncode == 0
    env["BOT_CONFIG"] = str(tmp_path / "missing.toml")
    failed = check_config(env)
    assert failed.returncode == 1 and "missing.toml" in failed.stderr


def follower(web) -> WeChatSimulator:
    return WeChatSimulator(token=TOKEN, post=http_poster(web.base + "/wechat"))


def test_two_workers_answer_health_and_a_whole_first_turn(start_web, tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    init = run_unit("ipweek-init.service", unit_env(url, 0))
    assert init.returncode == 0, init.stderr
    assert "数据库已就绪" in init.stdout and "已导入示例题库" in init.stdout
    web = start_web(url)
    assert len(worker_pids(web.proc.pid)) == 2

    health = web.get("/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok", "database": "ok"})
    wechat = follower(web)
    started = wechat.text("sim-user-1", "答题")  # a tester may play before the week starts
    assert started.status == 200 and "第1/10题【" in started.content
    forged = requests.post(web.base + "/wechat", params={"signature": "0" * 40, "timestamp": "1", "nonce": "2"},
                           data=b"<xml/>", timeout=10)
    assert forged.status_code == 403

    web.proc.send_signal(signal.SIGTERM)
    assert web.proc.wait(timeout=30) == 0


def test_unreachable_database_health_503_and_busy_reply(start_web):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ipweek"
    web = start_web(url)  # the workers boot without the database and recover when it returns
    health = web.get("/healthz")
    assert (health.status_code, health.json()) == (503, {"status": "error", "database": "unavailable"})
    reply = follower(web).text("sim-user-1", "答题")
    assert (reply.status, reply.content) == (200, BUSY_TEXT)
    assert web.proc.poll() is None and len(worker_pids(web.proc.pid)) == 2


def gunicorn_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_default_workers_one_per_core_and_one_more_on_postgresql():
    default_workers = gunicorn_conf().default_workers
    assert default_workers(2, "sqlite:////var/lib/ipweek/bot.db") == 2
    assert default_workers(2, "postgresql+psycopg://ipweek@db/ipweek") == 3
    assert default_workers(8, None) == 8


def conf_in_master(env: dict[str, str]) -> list[str]:
    """Load gunicorn.conf.py as the master does; print its workers and whether the app got imported."""
    probe = ("import runpy, sys; conf = runpy.run_path('gunicorn.conf.py'); "
             "print(conf['workers'], any(m == 'bot' or m.startswith('bot.') for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stdout.split()


def test_the_master_reads_the_database_url_without_importing_the_app(tmp_path):
    cores = os.cpu_count() or 1
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "postgresql+psycopg://ipweek@db/ipweek"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BOT_WORKERS")}
    # Importing the app in the master would make a reload (HUP) start workers on the old code.
    assert conf_in_master({**env, "BOT_CONFIG": str(config)}) == [str(cores + 1), "False"]
    assert conf_in_master({**env, "BOT_CONFIG": str(config), "DATABASE_URL": "sqlite:///x.db"}) == [str(cores), "False"]
    config.write_text("[database\n", encoding="utf-8")  # unreadable: the workers will say why
    assert conf_in_master({**env, "BOT_CONFIG": str(config)}) == [str(cores), "False"]


def test_empty_bot_workers_takes_the_default_for_the_configured_database(start_web):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ipweek"
    web = start_web(url, BOT_WORKERS="")
    expected = (os.cpu_count() or 1) + 1
    deadline = time.monotonic() + 30
    while len(worker_pids(web.proc.pid)) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # no more than that either
    assert len(worker_pids(web.proc.pid)) == expected


@pytest.fixture
def silent_database():
    silent = Silent()
    yield f"postgresql+psycopg://postgres@127.0.0.1:{silent.port}/ipweek"
    silent.close()


SIGNED = re.compile(r"(signature|timestamp|nonce)=[0-9a-f]{2,}")


def test_a_hung_database_ends_inside_the_app_with_the_busy_reply(start_web, silent_database):
    """Issue 16 item 3: the request ends in the app (busy reply, within WeChat's 5 s), not by gunicorn's timeout."""
    web = start_web(silent_database)
    reply = WeChatSimulator(token=TOKEN, post=http_poster(web.base + "/wechat", timeout=5)).text("sim-user-1", "答题")
    assert (reply.status, reply.content) == (200, BUSY_TEXT)
    assert requests.get(web.base + "/healthz", timeout=5).status_code == 503
    log = web.log.read_text(errors="replace")
    assert "WORKER TIMEOUT" not in log and not SIGNED.search(log)


def test_a_worker_timeout_logs_no_usable_signature(start_web, silent_database):
    """Forced: gunicorn's timeout shorter than the database wait, so the worker is killed mid-request."""
    web = start_web(silent_database, BOT_TIMEOUT="1")
    wechat = WeChatSimulator(token=TOKEN, post=http_poster(web.base + "/wechat", timeout=10))
    deadline = time.monotonic() + 30
    while "Error handling request /wechat" not in web.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, web.log.read_text(errors="replace")
        try:
            wechat.text("sim-user-1", "答题")
        except requests.RequestException:
            pass  # the worker was killed under the request
        time.sleep(0.5)
    log = web.log.read_text(errors="replace")
    assert "WORKER TIMEOUT" in log and "Error handling request /wechat?" in log
    assert "signature=…" in log and not SIGNED.search(log), log


def test_the_redaction_leaves_the_path_and_takes_every_signing_value():
    redact = gunicorn_conf().redact_query
    line = "Error handling request /wechat?signature=ab12&timestamp=1796172190&nonce=0286&openid=o1&encrypt_type=aes"
    assert redact(line) == ("Error handling request /wechat?signature=…&timestamp=…&nonce=…&openid=…"
                            "&encrypt_type=aes")
    assert redact("GET /wechat?msg_signature=ff&echostr=hello HTTP/1.1") == "GET /wechat?msg_signature=…&echostr=… HTTP/1.1"
