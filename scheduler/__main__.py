"""`python -m scheduler [--config FILE] [--wait]`: run the push plan (one scheduler at a time)."""
from __future__ import annotations

import logging
import signal
import sys
import time

import click

from bot.config import ConfigError, config_path, load_config
from bot.storage.db import Database
from bot.storage.models import utcnow
from bot.runtime import Runtime

from scheduler.runner import Runner

EXIT_CONFIG = 2
EXIT_LEASE_HELD = 3
EXIT_LEASE_LOST = 4


@click.command()
@click.option("--config", "config_file", metavar="FILE", help="配置文件（默认取 BOT_CONFIG 或 config.toml）")
@click.option("--wait", is_flag=True, help="若已有调度器在运行，等它停止后接替，而不是退出")
def main(config_file: str | None, wait: bool) -> int:
    """运行推送计划（同一时间只能运行一个调度器）。"""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(config_path(config_file))
    db = Database(config.database_url, config.database_lock_wait_seconds)
    db.create_all()
    runner = Runner(Runtime(config, db))
    while True:
        state = runner.start()
        if state.acquired:
            break
        expires = state.expires_at.replace(tzinfo=None)
        left = max((expires - utcnow()).total_seconds(), 0)
        message = (f"另一个调度器正在运行（{state.holder}），租约还有 {left:.0f} 秒到期（UTC {expires:%Y-%m-%d %H:%M:%S}）。"
                   "同一时间只能运行一个调度器")
        if not wait:
            click.echo(f"{message}；如需接替，请先停止它，或加 --wait 等待。", err=True)
            return EXIT_LEASE_HELD
        click.echo(f"{message}；等待接替……", err=True)
        time.sleep(min(max(left, 1), runner.options.lease_seconds))
    click.echo(f"调度器已启动（{runner.holder}），按 Ctrl+C 停止。", err=True)
    signal.signal(signal.SIGTERM, lambda *_: runner.stopped.set())
    try:
        while not runner.stopped.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        runner.shutdown()
    if runner.lost:
        click.echo("调度器租约已被另一个调度器接管，本进程已停止发送。", err=True)
        return EXIT_LEASE_LOST
    return 0


def run() -> None:
    """Run the command; a config problem is one line on stderr and exit code 2."""
    try:
        code = main.main(prog_name="python -m scheduler", standalone_mode=False)
    except ConfigError as exc:
        click.echo(f"配置错误：{exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(1)
    sys.exit(code or 0)


if __name__ == "__main__":
    run()
