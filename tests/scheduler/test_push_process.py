"""`python -m scheduler` as its own process: the lease, config errors, a kill in the middle of a send."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.storage.db import Database
from bot.storage.models import Lease, PushLog, utcnow

from tests.scheduler.conftest import config_data, local_now, wait_for, write_toml

ROOT = Path(__file__).resolve().parents[2]


def scheduler_process(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("BOT_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def status(db: Database, key: str) -> str:
    with db.reader() as session:
        return session.get(PushLog, key).status


@pytest.fixture
def sched_sqlite(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'proc.db'}")
    db.create_all()
    yield db
    db.dispose()


def test_second_scheduler_exits_with_a_clear_message(sched_standin, sched_sqlite, tmp_path):
    with sched_sqlite.session() as session:
        session.add(Lease(name="scheduler", holder="ops-host:4242:abc", expires_at=utcnow() + dt.timedelta(minutes=5)))
    config = write_toml(tmp_path / "config.toml", config_data(api_base=sched_standin.api_base, db_url=sched_sqlite.url))
    proc = scheduler_process(config)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "另一个调度器正在运行（ops-host:4242:abc）" in err and "--wait" in err


def test_config_error_is_one_line_and_exit_2(sched_standin, sched_sqlite, tmp_path):
    data = config_data(api_base=sched_standin.api_base, db_url=sched_sqlite.url,
                       pushes=[{"key": "v", "title": "t", "kind": "video", "at": "tomorrow"}])
    proc = scheduler_process(write_toml(tmp_path / "config.toml", data))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        f"配置错误：{tmp_path / 'config.toml'}: pushes[1].at: 应为本地日期时间，如 2027-04-21T20:00:00，当前为 'tomorrow'"]


def test_killed_mid_send_then_restarted_sends_exactly_once(sched_standin, sched_sqlite, tmp_path):
    push = {"key": "video-1", "title": "专利入门", "kind": "video", "at": local_now(2), "media_id": "m1"}
    config = write_toml(tmp_path / "config.toml", config_data(
        api_base=sched_standin.api_base, db_url=sched_sqlite.url, pushes=[push], scheduler={"lease_seconds": 5}))
    sched_standin.delay("message/mass/sendall", 1.5)
    first = scheduler_process(config)
    try:
        wait_for(lambda: sched_standin.calls("message/mass/sendall"), timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert status(sched_sqlite, "video-1") == "sending"
    wait_for(lambda: sched_standin.sent(), timeout=10)  # WeChat finished the send the dead process made
    sched_standin.delay("message/mass/sendall", 0)
    with sched_sqlite.session() as session:
        session.get(Lease, "scheduler").expires_at = utcnow()  # the dead process's lease runs out

    second = scheduler_process(config)
    try:
        wait_for(lambda: len(sched_standin.calls("message/mass/sendall")) == 2, timeout=30)
        wait_for(lambda: status(sched_sqlite, "video-1") == "sent", timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    bodies = sched_standin.bodies("message/mass/sendall")
    assert bodies[0] == bodies[1] and bodies[0]["clientmsgid"] == "ipweek-video-1"
    real = sched_standin.sent()
    with sched_sqlite.reader() as session:
        row = session.get(PushLog, "video-1")
        assert [s["msg_id"] for s in real] == [int(row.msg_id)] and row.status == "sent"
        assert session.get(Lease, "scheduler") is None  # released on SIGTERM
