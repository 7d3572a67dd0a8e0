"""Shared fixtures: a fresh database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set),
the app on it, and a `wechat` fixture that signs and posts XML like WeChat's servers."""
from __future__ import annotations

import copy
import datetime as dt
import os
import threading

import pytest
from sqlalchemy import text

from bot.app import create_app
from bot.config import parse_config
from bot.storage.db import Database
from bot.storage.models import Base, Bank, QuestionRow, utcnow
from bot.runtime import Runtime
from bot.wechat.simulator import WeChatSimulator

PG_URL = os.environ.get("TEST_DATABASE_URL")
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

BASE_CONFIG = {
    "wechat": {"app_id": "wx2c2769f8efd9abc2", "app_secret": "test-secret", "token": "spamtest",
               "encoding_aes_key": "", "api_base_url": "http://127.0.0.1:9/cgi-bin/",
               "account_type": "subscription"},
    "server": {"webhook_path": "/wechat"},
    "database": {"url": "sqlite://"},
    "activity": {"name": "2027年知识产权宣传周", "theme": "知识产权与创新发展", "timezone": "Asia/Shanghai",
                 "start": dt.datetime(2027, 4, 20, 0, 0, 0), "end": dt.datetime(2027, 4, 26, 23, 59, 59)},
    "quiz": {"bank": "default", "questions_per_attempt": 5, "time_limit_minutes": 30, "max_attempts": 3,
             "max_attempts_per_day": 1, "pass_score": 50, "default_points": 10},
    "replies": [{"id": "hotline", "words": ["12330", "维权"], "text": "知识产权维权援助热线：12330"}],
    "menu": [{"name": "有奖竞答", "key": "quiz"},
             {"name": "更多", "sub": [{"name": "活动安排", "key": "schedule"}, {"name": "热线", "key": "hotline"}]}],
    # Scripted test players answer in no time: the fair-play checks are off here, and on in their own tests.
    "fairplay": {"min_median_seconds": 0, "min_answer_seconds": 0, "max_accounts_per_contact": 10},
    "pushes": [{"key": "video-1", "title": "专利保护那些事", "kind": "video", "at": dt.datetime(2027, 4, 21, 20, 0),
                "media_id": "m1"}],
}

# During the week: 2027-04-21 10:00 in Shanghai.
IN_WEEK = dt.datetime(2027, 4, 21, 2, 0, 0)


def merge(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def make_config(overrides: dict | None = None, url: str = "sqlite://"):
    data = merge(BASE_CONFIG, {"database": {"url": url}, **(overrides or {})})
    return parse_config(data, "test.toml", environ={})


def reset_postgres(db: Database) -> None:
    Base.metadata.drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
    Base.metadata.create_all(db.engine)


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.db'}"
    return PG_URL


class Clock:
    """A settable clock for the runtime (naive UTC)."""

    def __init__(self, now: dt.datetime):
        self.now = now
        self.lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += dt.timedelta(**kwargs)


@pytest.fixture
def clock():
    return Clock(IN_WEEK)


@pytest.fixture
def config_overrides():
    """Override in a test module to change the config for its runtime."""
    return {}


@pytest.fixture
def runtime(db_url, config_overrides, clock):
    config = make_config(config_overrides, db_url)
    db = Database(db_url)
    if db_url.startswith("postgresql"):
        reset_postgres(db)
    else:
        db.create_all()
    rt = Runtime(config, db, clock=clock)
    yield rt
    db.dispose()


@pytest.fixture
def app(runtime):
    app = create_app(runtime=runtime)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def flask_poster(client, path="/wechat"):
    def post(query: dict, body: bytes):
        response = client.post(path, query_string=query, data=body, content_type="text/xml")
        return response.status_code, response.get_data(as_text=True)

    return post


@pytest.fixture
def wechat(runtime, client):
    """Post signed (and, in safe mode, encrypted) XML to the webhook like WeChat does."""
    wc = runtime.config.wechat
    return WeChatSimulator(token=wc.token, encoding_aes_key=wc.encoding_aes_key, app_id=wc.app_id,
                           post=flask_poster(client, runtime.config.server.webhook_path))


SAMPLE_QUESTIONS = [
    ("单选", "世界知识产权日是每年的哪一天？", ["4月26日", "3月15日", "5月1日", "6月1日"], ["A"], "2001年起设立。"),
    ("单选", "知识产权维权援助热线号码是？", ["12315", "12330", "12345", "110"], ["B"], "12330。"),
    ("多选", "下列属于知识产权的有？", ["专利权", "商标权", "著作权", "物权"], ["A", "B", "C"], "物权不是。"),
    ("判断", "发明专利权的期限为二十年，自申请日起计算。", [], [True], "专利法第四十二条。"),
    ("判断", "实用新型专利权的期限为十五年。", [], [False], "实用新型为十年。"),
    ("填空", "外观设计专利权的期限为____年。", [], ["15", "十五"], "2021年6月1日起为十五年。"),
    ("单选", "注册商标的有效期为多少年？", ["5年", "10年", "20年", "50年"], ["B"], "商标法第三十九条。"),
]


def load_bank(db: Database, name: str = "default", questions=SAMPLE_QUESTIONS) -> int:
    """Put a small bank straight into the database; return its id."""
    with db.session() as session:
        bank = Bank(name=name, source="tests", imported_at=utcnow())
        session.add(bank)
        session.flush()
        for i, (qtype, stem, options, answer, explanation) in enumerate(questions):
            session.add(QuestionRow(bank_id=bank.id, position=i, qtype=qtype, stem=stem, options=options,
                                    answer=answer, explanation=explanation, points=10, category=""))
        return bank.id
