"""Console fixtures: a configured password, a logged-in client and finished quizzes to look at."""
from __future__ import annotations

import re

import pytest

from tests.bot.test_quiz_flow import TICKS, play
from tests.conftest import AES_KEY, load_bank

PASSWORD = "correct horse battery"
SECRETS = ("test-secret", "spamtest", AES_KEY, PASSWORD)

CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')


@pytest.fixture
def config_overrides():
    return {"admin": {"password": PASSWORD, "max_failed_logins": 3, "lockout_minutes": 10},
            "quiz": {"testers": ["sim-user-1", "sim-user-2"]}}


def csrf_from(client, path: str = "/admin/login") -> str:
    """Return the CSRF token a page's form carries."""
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def login(client, password: str = PASSWORD):
    """Log in through the form; return the response."""
    return client.post("/admin/login", data={"csrf_token": csrf_from(client), "password": password})


@pytest.fixture
def staff(client):
    """A client with a staff session."""
    assert login(client).status_code == 302
    return client


@pytest.fixture
def token(staff):
    return csrf_from(staff, "/admin/")


@pytest.fixture
def players(runtime, wechat):
    """Three players who finished the quiz: two with full marks and contact details, one with half."""
    load_bank(runtime.db)
    for openid, correct, contact in (("p-alice", 5, "张三 13800138000"), ("p-bob", 5, "李四 13900139000"),
                                     ("p-carol", 2, None)):
        wechat.text(openid, "答题")
        play(wechat, runtime, openid, correct=correct)
        if contact:
            wechat.text(openid, contact, create_time=next(TICKS))
    return ("p-alice", "p-bob", "p-carol")
