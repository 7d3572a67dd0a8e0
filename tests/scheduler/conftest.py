"""Scheduler fixtures: the WeChat stand-in over real HTTP, a database per test, config builders."""
from __future__ import annotations

import datetime as dt
import os
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import text
from waitress.server import create_server

from bot.config import parse_config
from bot.storage.db import Database
from bot.storage.models import Base
from bot.runtime import Runtime
from bot.wechat.standin import create_standin

TZ = ZoneInfo("Asia/Shanghai")
APP_ID = "wx_sched_test"
APP_SECRET = "sched-secret"
PG_URL = os.environ.get("TEST_DATABASE_URL")


class StandIn:
    """The running stand-in and its control endpoints."""

    def __init__(self, base: str):
        self.base = base
        self.api_base = f"{base}/cgi-bin/"

    def reset(self) -> None:
        requests.post(f"{self.base}/_standin/reset", timeout=5).raise_for_status()
        requests.post(f"{self.base}/_standin/delay", json={"path": "message/mass/sendall", "seconds": 0}, timeout=5)

    def calls(self, path: str | None = None) -> list[dict]:
        calls = requests.get(f"{self.base}/_standin/calls", timeout=5).json()
        return [c for c in calls if path is None or c["path"] == path]

    def sent(self) -> list[dict]:
        """Return the mass sends that really went out (a 45065 answer is not one)."""
        return requests.get(f"{self.base}/_standin/sent", timeout=5).json()

    def bodies(self, path: str) -> list[dict]:
        return [c["body"] for c in self.calls(path)]

    def fail(self, path: str, *errcodes: int) -> None:
        requests.post(f"{self.base}/_standin/fail", json={"path": path, "errcodes": list(errcodes)},
                      timeout=5).raise_for_status()

    def delay(self, path: str, seconds: float) -> None:
        requests.post(f"{self.base}/_standin/delay", json={"path": path, "seconds": seconds},
                      timeout=5).raise_for_status()

    def expire_tokens(self) -> None:
        requests.post(f"{self.base}/_standin/expire-tokens", timeout=5).raise_for_status()

    def token(self, *, force_refresh: bool = False, secret: str = APP_SECRET) -> str:
        """Ask stable_token for the current token, as any process of the account would."""
        answer = self.stable_token(force_refresh=force_refresh, secret=secret)
        return answer["access_token"]

    def stable_token(self, *, force_refresh: bool = False, secret: str = APP_SECRET) -> dict:
        body = {"grant_type": "client_credential", "appid": APP_ID, "secret": secret, "force_refresh": force_refresh}
        return requests.post(f"{self.api_base}stable_token", json=body, timeout=5).json()

    def drafts(self) -> dict:
        """Return the drafts box: draft media_id -> the draft/add body (mass-sent drafts leave it)."""
        return requests.get(f"{self.base}/_standin/drafts", timeout=5).json()

    def send_directly(self, body: dict) -> dict:
        """Make a mass send with a fresh token, as another process would have done."""
        token = self.token()
        return requests.post(f"{self.api_base}message/mass/sendall", params={"access_token": token}, json=body,
                             timeout=5).json()


@pytest.fixture(scope="session")
def sched_standin_server():
    server = create_server(create_standin(APP_ID, APP_SECRET), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="standin-test", daemon=True)
    thread.start()
    yield StandIn(f"http://127.0.0.1:{server.effective_port}")
    server.close()


@pytest.fixture
def sched_standin(sched_standin_server):
    sched_standin_server.reset()
    yield sched_standin_server
    sched_standin_server.reset()


@pytest.fixture(params=["sqlite"] + (["postgresql"] if PG_URL else []))
def sched_db(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'sched.db'}")
        db.create_all()
        yield db
        db.dispose()
        return
    db = Database(PG_URL)
    _reset_postgres(db)
    yield db
    _reset_postgres(db)
    db.dispose()


def _reset_postgres(db: Database) -> None:
    Base.metadata.drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
    Base.metadata.create_all(db.engine)


def local_now(seconds: float = 0) -> dt.datetime:
    """Return the activity-local wall clock, naive (as TOML writes it), shifted by seconds."""
    return dt.datetime.now(TZ).replace(tzinfo=None) + dt.timedelta(seconds=seconds)


def config_data(*, api_base: str, db_url: str, pushes=(), series=(), scheduler=None, wechat=None) -> dict:
    data = {
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": "schedtoken", "api_base_url": api_base,
                   "account_type": "service", **(wechat or {})},
        "database": {"url": db_url},
        "activity": {"name": "2027年知识产权宣传周", "timezone": "Asia/Shanghai",
                     "start": dt.datetime(2027, 4, 20), "end": dt.datetime(2027, 4, 26, 23, 59, 59)},
        "quiz": {},
        "scheduler": {"retry_seconds": 0.01, "lease_seconds": 30, **(scheduler or {})},
    }
    if pushes:
        data["pushes"] = [dict(p) for p in pushes]
    if series:
        data["push_series"] = [dict(s) for s in series]
    return data


@pytest.fixture
def sched_make(sched_standin, sched_db, tmp_path):
    """Build a Runtime on the test database whose API calls go to the stand-in."""

    def make(**kwargs) -> Runtime:
        data = config_data(api_base=sched_standin.api_base, db_url=sched_db.url, **kwargs)
        return Runtime(parse_config(data, str(tmp_path / "test.toml"), environ={}), sched_db)

    return make


def wait_for(predicate, timeout: float = 15, interval: float = 0.05):
    """Poll until predicate() is truthy (bounded); return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def write_toml(path: Path, data: dict) -> Path:
    """Write a config dict as TOML (strings, numbers, booleans, datetimes, lists, tables)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, dt.datetime):
            return v.isoformat()
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{value(k)} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(v)

    lines = []
    for name, table in data.items():
        for entry in (table if isinstance(table, list) else [table]):
            lines.append(f"[[{name}]]" if isinstance(table, list) else f"[{name}]")
            lines.extend(f"{k} = {value(v)}" for k, v in entry.items())
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def sched_runners():
    """Start Runners and shut every one down at the end of the test."""
    from scheduler.runner import Runner

    started: list[Runner] = []

    def start(runtime: Runtime, holder: str | None = None) -> Runner:
        runner = Runner(runtime, holder=holder)
        started.append(runner)
        runner.start()
        return runner

    yield start
    for runner in reversed(started):
        runner.shutdown()
