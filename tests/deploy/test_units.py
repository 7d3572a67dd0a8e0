"""The systemd units, the env example and the nginx example in deploy/ refer to what really exists."""
from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.commands.cli import cli
from bot.config import ENV_OVERRIDES
from scheduler.__main__ import main as scheduler_main

from tests.deploy.conftest import DEPLOY, INSTALL, ROOT, env_example, exec_start, installed, read_unit, unit_names

LONG_RUNNING = ("ipweek-web.service", "ipweek-scheduler.service")


def test_the_units_are_web_scheduler_and_init():
    assert unit_names() == ["ipweek-init.service", "ipweek-scheduler.service", "ipweek-web.service"]


def test_exactly_one_unit_runs_the_scheduler_and_none_runs_serve():
    runs_scheduler = [name for name in unit_names() if exec_start(name)[1:3] == ["-m", "scheduler"]]
    assert runs_scheduler == ["ipweek-scheduler.service"]
    for name in unit_names():
        assert "serve" not in exec_start(name), f"{name}: serve would run a second scheduler in-process"
        assert "@" not in name


def test_web_runs_the_app_factory_under_gunicorn_with_the_repository_config():
    command = exec_start("ipweek-web.service")
    assert command[0] == f"{INSTALL}/.venv/bin/gunicorn"
    assert Path(installed(command)[0]).is_file()
    module, _, factory = command[1].partition(":")
    assert factory == "create_app()" and callable(importlib.import_module(module).create_app)
    config = command[command.index("-c") + 1]
    assert config == f"{INSTALL}/gunicorn.conf.py" and (ROOT / "gunicorn.conf.py").is_file()


def test_scheduler_and_init_run_existing_commands():
    scheduler = exec_start("ipweek-scheduler.service")
    assert scheduler[0] == f"{INSTALL}/.venv/bin/python" and Path(installed(scheduler)[0]).is_file()
    assert importlib.util.find_spec("scheduler.__main__") is not None
    assert scheduler[3:] == ["--wait"] and "--wait" in {o for p in scheduler_main.params for o in p.opts}
    init = exec_start("ipweek-init.service")
    assert init[1:] == ["-m", "bot", "init-db"] and "init-db" in cli.commands
    assert importlib.util.find_spec("bot.__main__") is not None


@pytest.mark.parametrize("name", ["ipweek-web.service", "ipweek-scheduler.service", "ipweek-init.service"])
def test_each_unit_runs_as_the_service_user_from_the_checkout_with_the_env_file(name):
    service = read_unit(name)["Service"]
    assert service["User"] == "ipweek" and service["Group"] == "ipweek"
    assert service["WorkingDirectory"] == INSTALL
    assert service["EnvironmentFile"] == "/etc/ipweek/env"
    assert service["ReadWritePaths"] == f"{INSTALL}/instance"  # uploads (and a SQLite file, if used)


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_units_restart_and_start_after_init(name):
    unit = read_unit(name)
    assert unit["Service"]["Restart"] == "always"
    assert "ipweek-init.service" in unit["Unit"]["Wants"].split()
    assert "ipweek-init.service" in unit["Unit"]["After"].split()
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_scheduler_stops_gracefully_and_does_not_loop_on_a_config_error():
    service = read_unit("ipweek-scheduler.service")["Service"]
    assert service["KillSignal"] == "SIGTERM" and int(service["TimeoutStopSec"]) >= 120
    assert service["RestartPreventExitStatus"] == "2"  # python -m scheduler: exit 2 is a config error
    init = read_unit("ipweek-init.service")["Service"]
    assert (init["Type"], init["RemainAfterExit"]) == ("oneshot", "yes")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_accepts_the_units(tmp_path):
    env = tmp_path / "env"
    env.write_text("", encoding="utf-8")
    for name in unit_names():
        text = (DEPLOY / name).read_text(encoding="utf-8")
        text = text.replace(f"{INSTALL}/.venv/bin/", installed([f"{INSTALL}/.venv/bin/"])[0] + "/")
        text = text.replace(INSTALL, str(ROOT)).replace("/etc/ipweek/env", str(env))
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in unit_names())],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "ipweek" not in result.stderr, result.stderr


def test_env_example_names_the_config_and_every_secret_the_app_reads():
    env = env_example()
    assert env["BOT_CONFIG"] == "/etc/ipweek/config.toml"
    assert {name for name, _, _ in ENV_OVERRIDES} <= set(env)
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    gunicorn_conf = (ROOT / "gunicorn.conf.py").read_text(encoding="utf-8")
    for key in ("BOT_BIND", "BOT_WORKERS", "BOT_THREADS", "BOT_TIMEOUT", "BOT_LOG_LEVEL", "FORWARDED_ALLOW_IPS"):
        assert key in env and f'"{key}"' in gunicorn_conf


def test_nginx_example_proxies_to_the_bind_address_with_the_webhook_path():
    nginx = (DEPLOY / "nginx.conf.example").read_text(encoding="utf-8")
    upstreams = re.findall(r"upstream (\w+) \{\s*server ([\d.:]+)", nginx)
    assert upstreams == [("ipweek_web", env_example()["BOT_BIND"]), ("ipweek_admin", env_example()["BOT_BIND"])]
    assert "location = /wechat {" in nginx and "client_max_body_size 64k;" in nginx
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert "location /admin/ {" in nginx and "location = /healthz {" in nginx
