"""The API client: every call and the token go to api_base_url; processes share one stable token."""
from __future__ import annotations

import threading

import pytest
import requests
from waitress.server import create_server
from wechatpy.exceptions import WeChatClientException

from bot.wechat.standin import create_standin
from bot.wechat.api import ApiClient

APP_ID = "wx2c2769f8efd9abc2"
SECRET = "test-secret"
MENU = {"button": [{"type": "click", "name": "答题", "key": "quiz"}]}


@pytest.fixture
def standin_url():
    server = create_server(create_standin(APP_ID, SECRET), host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture
def config_overrides(request):
    return {}


def calls(url: str, path: str | None = None) -> list[dict]:
    found = requests.get(f"{url}/_standin/calls", timeout=5).json()
    return [c for c in found if path is None or c["path"] == path]


def fail(url: str, path: str, *errcodes: int) -> None:
    requests.post(f"{url}/_standin/fail", json={"path": path, "errcodes": list(errcodes)}, timeout=5).raise_for_status()


def stable_token(url: str, method: str = "post", **fields) -> dict:
    body = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET, **fields}
    return requests.request(method, f"{url}/cgi-bin/stable_token", json=body, timeout=5).json()


def menu_get(url: str, token: str) -> dict:
    return requests.get(f"{url}/cgi-bin/menu/get", params={"access_token": token}, timeout=5).json()


def client_for(runtime, url):
    wechat = runtime.config.wechat.__class__(**{**runtime.config.wechat.__dict__, "api_base_url": f"{url}/cgi-bin/"})
    return ApiClient(wechat, runtime.db)


def test_token_comes_from_stable_token_at_the_configured_base(runtime, standin_url):
    api = client_for(runtime, standin_url)
    api.menu.create(MENU)
    assert [c["path"] for c in calls(standin_url)] == ["stable_token", "menu/create"]
    token_call, menu_call = calls(standin_url)
    assert token_call["method"] == "POST" and token_call["query"] == {}
    assert token_call["body"] == {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET,
                                  "force_refresh": False}
    assert "secret" not in menu_call["query"] and menu_call["query"]["access_token"].startswith("standin_")


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
    assert len(calls(standin_url, "stable_token")) == 1


def test_a_second_client_on_the_same_database_reuses_the_token(runtime, standin_url):
    first = client_for(runtime, standin_url)
    first.menu.create(MENU)
    later = client_for(runtime, standin_url)  # another process, started later, on the same database
    assert later.menu.get()["menu"] == MENU
    assert len(calls(standin_url, "stable_token")) == 1
    tokens = {c["query"]["access_token"] for c in calls(standin_url) if c["path"].startswith("menu/")}
    assert tokens == {first.access_token}


def test_a_rejected_current_token_is_force_refreshed_once(runtime, standin_url):
    api = client_for(runtime, standin_url)
    old = api.access_token
    fail(standin_url, "menu/create", 40001)  # WeChat rejects the token it still calls current
    api.menu.create(MENU)
    assert [c["path"] for c in calls(standin_url)] == [
        "stable_token", "menu/create", "stable_token", "stable_token", "menu/create"]
    assert [c["body"]["force_refresh"] for c in calls(standin_url, "stable_token")] == [False, False, True]
    new = calls(standin_url, "menu/create")[-1]["query"]["access_token"]
    assert new != old and api.access_token == new
    assert menu_get(standin_url, old)["errcode"] == 40001  # the forced refresh ended the old token


def test_a_token_replaced_elsewhere_is_picked_up_without_forcing(runtime, standin_url):
    api = client_for(runtime, standin_url)
    old = api.access_token
    requests.post(f"{standin_url}/_standin/expire-tokens", timeout=5).raise_for_status()
    api.menu.create(MENU)
    assert [c["path"] for c in calls(standin_url)] == ["stable_token", "menu/create", "stable_token", "menu/create"]
    assert [c["body"]["force_refresh"] for c in calls(standin_url, "stable_token")] == [False, False]
    assert api.access_token != old


def test_a_token_another_process_replaced_is_used_as_it_is(runtime, standin_url):
    api = client_for(runtime, standin_url)
    rejected = api.access_token
    newer = stable_token(standin_url, force_refresh=True)  # another process replaced it meanwhile
    api.session.set(api.access_token_key, newer["access_token"], newer["expires_in"])
    assert api.replace_rejected_token(rejected) == newer["access_token"]
    assert len(calls(standin_url, "stable_token")) == 2  # ours at first, and the other process's


def test_the_retry_after_a_rejected_token_is_bounded(runtime, standin_url):
    api = client_for(runtime, standin_url)
    fail(standin_url, "menu/create", 40001, 42001)
    with pytest.raises(WeChatClientException) as err:
        api.menu.create(MENU)
    assert err.value.errcode == 42001
    assert len(calls(standin_url, "menu/create")) == 2


def test_standin_answers_stable_token_like_wechat(standin_url):
    first = stable_token(standin_url)
    again = stable_token(standin_url, force_refresh=False)
    assert first["access_token"] == again["access_token"] and 7100 < again["expires_in"] <= 7200
    forced = stable_token(standin_url, force_refresh=True)
    assert forced["access_token"] != first["access_token"]
    assert menu_get(standin_url, first["access_token"])["errcode"] == 40001
    assert menu_get(standin_url, forced["access_token"])["errcode"] == 46003  # valid token, no menu yet
    assert stable_token(standin_url)["access_token"] == forced["access_token"]
    # A second forced refresh within 30 s does not refresh.
    assert stable_token(standin_url, force_refresh=True)["access_token"] == forced["access_token"]


@pytest.mark.parametrize("call, errcode", [
    ({"secret": "wrong"}, 40125),
    ({"appid": "wx0000000000000000"}, 40013),
    ({"grant_type": "password"}, 40002),
    ({"method": "get"}, 43002),
])
def test_standin_refuses_a_bad_stable_token_call(standin_url, call, errcode):
    answer = stable_token(standin_url, **call)
    assert answer["errcode"] == errcode and "access_token" not in answer


def test_standin_no_longer_answers_the_old_token_call(standin_url):
    old = requests.get(f"{standin_url}/cgi-bin/token", params={"grant_type": "client_credential", "appid": APP_ID,
                                                               "secret": SECRET}, timeout=5).json()
    assert "access_token" not in old and old["errcode"] == 40004
