"""Deployment fixtures: the unit files and env example in deploy/, and the web unit's command run for real.

Paths in deploy/ name the installed layout (/opt/ipweek, its .venv); the tests map them onto this
checkout and the Python environment running the tests.
"""
from __future__ import annotations

import configparser
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL = "/opt/ipweek"
TOKEN = "deploytoken"


def read_unit(name: str) -> configparser.ConfigParser:
    """Parse a systemd unit (repeated keys allowed, as systemd allows them)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def unit_names() -> list[str]:
    return sorted(p.name for p in DEPLOY.glob("*.service"))


def installed(command: list[str]) -> list[str]:
    """Map a unit's command from the installed layout onto this checkout and environment."""
    venv_bin = f"{INSTALL}/.venv/bin/"
    out = []
    for word in command:
        if word.startswith(venv_bin):
            word = str(Path(sys.executable).parent / word.removeprefix(venv_bin))
        elif word.startswith(INSTALL + "/"):
            word = str(ROOT / word.removeprefix(INSTALL + "/"))
        out.append(word)
    return out


def exec_start(name: str) -> list[str]:
    return shlex.split(read_unit(name)["Service"]["ExecStart"])


def env_example() -> dict[str, str]:
    """Read deploy/env.example as systemd reads an EnvironmentFile."""
    env = {}
    for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unit_env(database_url: str, port: int) -> dict[str, str]:
    """The env.example environment with test values for the secrets, the database and the port."""
    env = {**os.environ, **env_example()}
    env.update(BOT_CONFIG=str(ROOT / "config.example.toml"), DATABASE_URL=database_url,
               WECHAT_TOKEN=TOKEN, WECHAT_APP_SECRET="deploy-secret", ADMIN_PASSWORD="deploy-password",
               BOT_BIND=f"127.0.0.1:{port}", BOT_WORKERS="2", BOT_LOG_LEVEL="warning")
    return env


def worker_pids(master: int) -> list[int]:
    """Return the pids of the processes whose parent is `master` (Linux /proc)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


@dataclass
class Web:
    """gunicorn started with the web unit's ExecStart."""

    proc: subprocess.Popen
    base: str
    log: Path

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.base + path, timeout=10, **kwargs)


def run_unit(name: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    """Run a oneshot unit's ExecStart in the unit's working directory."""
    return subprocess.run(installed(exec_start(name)), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False, **kwargs)


@pytest.fixture
def start_web(tmp_path):
    """Start gunicorn as ipweek-web.service does, on a database URL; stop it after the test."""
    started: list[Web] = []

    def start(database_url: str, **env: str) -> Web:
        port = free_port()
        log = tmp_path / f"gunicorn-{port}.log"
        proc = subprocess.Popen(installed(exec_start("ipweek-web.service")), cwd=ROOT,
                                env={**unit_env(database_url, port), **env}, stdout=log.open("wb"),
                                stderr=subprocess.STDOUT)
        web = Web(proc, f"http://127.0.0.1:{port}", log)
        started.append(web)
        deadline = time.monotonic() + 30
        while len(worker_pids(proc.pid)) < 2 or not _answers(web):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        return web

    yield start
    for web in started:
        if web.proc.poll() is None:
            web.proc.send_signal(signal.SIGTERM)
            try:
                web.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                web.proc.kill()
                web.proc.wait()


def _answers(web: Web) -> bool:
    try:
        web.get("/healthz")
    except requests.ConnectionError:
        return False
    return True
