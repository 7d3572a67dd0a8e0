"""The API client: every call and the token go to api_base_url; processes share one token."""
from __future__ import annotations

import threading

import pytest
import requests
from waitress.server import create_server

from bot.wechat.standin import create_standin
from bot.wechat.api import ApiClient


@pytest.fixture
def standin_url():
    server = create_server(create_standin("wx2c2769f8efd9abc2", "test-secret"), host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def config_overrides(request):
    return {}


def calls(url: str) -> list[dict]:
    return requests.get(f"{url}/_standin/calls", timeout=5).json()


def client_for(runtime, url):
    wechat = runtime.config.wechat.__class__(**{**runtime.config.wechat.__dict__, "api_base_url": f"{url}/cgi-bin/"})
    return ApiClient(wechat, runtime.db)


def test_token_and_calls_go_to_the_configured_base(runtime, standin_url):
    api = client_for(runtime, standin_url)
    api.menu.create({"button": [{"type": "click", "name": "答题", "key": "quiz"}]})
    paths = [c["path"] for c in calls(standin_url)]
    assert paths == ["token", "menu/create"]
    token_call = calls(standin_url)[0]
    assert token_call["query"]["appid"] == "wx2c2769f8efd9abc2"


def test_many_processes_share_one_token(runtime, standin_url):
    """Eight clients (as eight workers would) ask at once: exactly one token fetch."""
    clients = [client_for(runtime, standin_url) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    tokens = []

    def ask(api):
        barrier.wait()
        tokens.append(api.access_token)

    threads = [threading.Thread(target=ask, args=(api,)) for api in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 1
    assert [c["path"] for c in calls(standin_url)].count("token") == 1
