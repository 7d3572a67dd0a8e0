"""Browser fixtures: the real server on a free port and Debian's headless Chromium driven by Playwright."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from waitress.server import create_server

from bot.app import create_app
from bot.storage.db import Database
from bot.runtime import Runtime
from tests.conftest import IN_WEEK, Clock, make_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "browser-test-password"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _missing(reason: str) -> None:
    message = f"浏览器测试无法运行：{reason}。请先运行 bash .ci/test-deps.sh（安装 Debian 的 chromium 和 playwright）。"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's Chromium headless; fail in CI (skip locally) when it is not installed."""
    if not Path(CHROMIUM).is_file():
        _missing(f"找不到 {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("没有安装 Python 包 playwright")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path):
    """Run the app with waitress on a temp SQLite database; yield (base URL, runtime)."""
    config = make_config({"admin": {"password": PASSWORD},
                          "quiz": {"testers": ["sim-user-1", "sim-user-2", "sim-user-3"]}},
                         f"sqlite:///{tmp_path / 'bot.db'}")
    db = Database(config.database_url)
    db.create_all()
    runtime = Runtime(config, db, clock=Clock(IN_WEEK))
    app = create_app(runtime=runtime)
    app.instance_path = str(tmp_path / "instance")
    http = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.effective_port}", runtime
    http.close()
    thread.join(timeout=5)
    db.dispose()


@pytest.fixture
def page(browser):
    """A phone-sized page that refuses every request leaving the local server."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, locale="zh-CN", accept_downloads=True)
    outside: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith("http://127.0.0.1:"):
            return route.continue_()
        outside.append(url)
        return route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert outside == [], f"pages tried to load from the internet: {outside}"


def shoot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a screenshot of the page under test-output/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
