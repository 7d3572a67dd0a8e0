"""`python -m bot`: the organizers' and staff's commands."""
from __future__ import annotations

import logging
import sys
import threading
from functools import cached_property
from urllib.parse import urlparse

import click
from sqlalchemy.exc import OperationalError

from exports.cli import export
from scheduler.cli import pushes

from bot.commands.channels import channels
from bot.commands.data import data
from bot.commands.questions import questions
from bot.config import Config, ConfigError, config_path, load_config
from bot.storage.db import Database, describe_db_error
from bot.runtime import Runtime

logger = logging.getLogger(__name__)


class CliState:
    """Loads the config and opens the database only when a command needs them."""

    def __init__(self, path: str | None):
        self.path = config_path(path)

    @cached_property
    def config(self) -> Config:
        return load_config(self.path)

    @cached_property
    def db(self) -> Database:
        db = Database(self.config.database_url, self.config.database_lock_wait_seconds)
        db.create_all()
        return db

    @cached_property
    def runtime(self) -> Runtime:
        return Runtime(self.config, self.db)


def setup_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group()
@click.option("--config", "config_file", metavar="FILE", help="配置文件（默认取 BOT_CONFIG 或 config.toml）")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """知识产权宣传周公众号机器人：有奖竞答、微讲堂推送、中奖导出。"""
    if not isinstance(ctx.obj, CliState):
        ctx.obj = CliState(config_file)


@cli.command("init-db", help="建表（可重复运行）；答题题库为空时导入示例题库。")
@click.pass_obj
def init_db(state: CliState) -> None:
    """Create the tables (safe to run again) and load the sample bank into an empty quiz bank."""
    from bot.quiz.banks import ensure_sample_bank

    with state.db.session() as session:
        imported = ensure_sample_bank(session=session, name=state.config.quiz.bank,
                                      default_points=state.config.quiz.default_points)
    click.echo(f"数据库已就绪：{_safe_url(state.config.database_url)}")
    if imported:
        click.echo(f"题库「{state.config.quiz.bank}」为空，已导入示例题库（{imported.total} 题）")


def _safe_url(url: str) -> str:
    """Show a database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _start_standin(config: Config) -> str:
    from waitress.server import create_server

    from bot.wechat.standin import create_standin

    parsed = urlparse(config.wechat.api_base_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    server = create_server(create_standin(config.wechat.app_id, config.wechat.app_secret),
                           host=host, port=port, threads=2)
    threading.Thread(target=server.run, name="wechat-standin", daemon=True).start()
    return f"http://{host}:{port}/cgi-bin/"


# waitress's defaults let 100 idle connections stop a demo server: at its connection limit it stops
# accepting, and an idle connection is only closed after 120 s. WeChat's requests finish within
# seconds, so idle ones go after CHANNEL_TIMEOUT, many may wait at once, and poll() replaces select()
# (which cannot watch more than 1,024 sockets).
SERVE_LIMITS = {
    "connection_limit": 1000,
    "channel_timeout": 10,
    "cleanup_interval": 2,
    "asyncore_use_poll": True,
    "backlog": 1024,
}


@cli.command(help="启动机器人（waitress；演示和小规模使用，正式上线用 gunicorn + nginx），默认同时运行推送调度。")
@click.option("--host", default=None, help="监听地址（默认取 server.host）")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="端口 1–65535（默认取 server.port）")
@click.option("--no-scheduler", is_flag=True, help="不在本进程内运行推送调度（另行运行 python -m scheduler）")
@click.pass_obj
def serve(state: CliState, host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Run the bot with a production WSGI server (waitress)."""
    from waitress.server import create_server

    from bot.app import create_app

    setup_logging()
    config = state.config
    host = host or config.server.host
    port = port or config.server.port
    runtime = state.runtime
    app = create_app(runtime=runtime)
    try:
        # Behind nginx (server.trusted_proxies) the app reads X-Forwarded-For itself (ProxyFix); waitress
        # would otherwise drop it, and every staff login would count against nginx's one address.
        server = create_server(app, host=host, port=port, threads=config.server.threads, **SERVE_LIMITS,
                               clear_untrusted_proxy_headers=not config.server.trusted_proxies)
    except OSError as exc:
        raise click.ClickException(f"无法在 {host}:{port} 启动（{exc.strerror}）：端口可能已被占用，"
                                   f"请换一个 server.port 或用 --port 指定") from None
    try:
        standin = _start_standin(config) if config.wechat.standin else ""
    except OSError as exc:
        server.close()
        raise click.ClickException(f"无法启动微信接口替身 {config.wechat.api_base_url}（{exc.strerror}）："
                                   "端口可能已被占用，请修改 wechat.api_base_url 的端口") from None
    scheduler = None
    if not no_scheduler and config.section("scheduler").get("embedded", True):
        from scheduler.runner import start_background

        scheduler = start_background(runtime)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{server.effective_port}"
    click.echo(f"机器人已启动：{base}{config.server.webhook_path}  （公众号后台“服务器地址”填它的公网地址）")
    click.echo(f"健康检查：{base}/healthz")
    click.echo(f"工作人员后台：{base}/admin/（密码取 admin.password 或环境变量 ADMIN_PASSWORD）")
    if config.wechat.standin:
        click.echo(f"网页聊天模拟器：{base}/simulator/")
    if standin:
        click.echo(f"本地微信接口替身：{standin}（wechat.standin = true；上线前改为真实接口）")
    click.echo(f"终端聊天试用：另开一个终端运行  python -m bot --config {state.path} simulate")
    click.echo("按 Ctrl+C 停止。")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if scheduler is not None:
            scheduler.shutdown()
        server.close()


@cli.command(help="在终端里和运行中的机器人聊天，消息按微信服务器的方式签名（和加密）。")
@click.option("--user", "openid", default="sim-user-1", show_default=True, help="模拟的粉丝 openid")
@click.option("--url", default=None, help="机器人地址（默认按配置取 http://server.host:server.port/webhook_path）")
@click.pass_obj
def simulate(state: CliState, openid: str, url: str | None) -> None:
    """Chat with the running bot in the terminal, signed exactly as WeChat signs."""
    from bot.wechat.simulator import WeChatSimulator, http_poster

    config = state.config
    url = url or f"http://{config.server.host}:{config.server.port}{config.server.webhook_path}"
    sim = WeChatSimulator(token=config.wechat.token, encoding_aes_key=config.wechat.encoding_aes_key,
                          app_id=config.wechat.app_id, post=http_poster(url), realtime=True)
    mode = "安全模式（加密）" if config.wechat.encrypted else "明文模式"
    click.echo(f"模拟粉丝 {openid} → {url}（{mode}）。输入消息回车发送；"
               "/关注 /取关 /菜单 KEY 发送事件；/退出 结束。")

    def show(reply) -> None:
        if reply.status != 200:
            click.echo(f"[服务器返回 {reply.status}：{reply.raw[:200]}]")
        elif not reply.content:
            click.echo("[无回复]")
        else:
            click.echo(reply.content)
        click.echo("")

    try:
        show(sim.event(openid, "subscribe"))
        for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: click.prompt("我", prompt_suffix="> "), None):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if line.strip() in ("/退出", "/quit", "/exit"):
                break
            if line.startswith("/关注"):
                show(sim.event(openid, "subscribe"))
            elif line.startswith("/取关"):
                show(sim.event(openid, "unsubscribe"))
            elif line.startswith("/菜单"):
                show(sim.event(openid, "CLICK", line.removeprefix("/菜单").strip()))
            else:
                show(sim.text(openid, line))
    except (EOFError, click.Abort, KeyboardInterrupt):
        pass
    except OSError as exc:
        raise click.ClickException(f"连接 {url} 失败：{exc}。请先在另一个终端运行 serve。") from None


@cli.group(help="自定义菜单。")
def menu() -> None:
    """Custom menu commands."""


@menu.command("push", help="按配置里的 [[menu]] 通过微信接口创建自定义菜单。")
@click.pass_obj
def menu_push(state: CliState) -> None:
    """Create the custom menu from the config through the WeChat API."""
    from wechatpy.exceptions import WeChatClientException

    from bot.wechat.menu import menu_payload

    config = state.config
    if not config.menu:
        raise click.ClickException(f"{config.source}: menu: 没有配置菜单，请按 config.example.toml 添加 [[menu]]")
    payload = menu_payload(config.menu)
    try:
        state.runtime.api.menu.create(payload)
    except WeChatClientException as exc:
        raise click.ClickException(f"创建菜单失败：微信返回 {exc.errcode} {exc.errmsg}") from None
    except OSError as exc:
        raise click.ClickException(f"连接微信接口 {config.wechat.api_base_url} 失败：{exc}") from None
    names = " | ".join(b.name for b in config.menu)
    click.echo(f"菜单已创建：{names}")


@cli.command(help="只运行本地微信接口替身（地址取 wechat.api_base_url），供演示和测试。")
@click.option("--host", default=None)
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="端口 1–65535")
@click.pass_obj
def standin(state: CliState, host: str | None, port: int | None) -> None:
    """Run only the local WeChat API stand-in (at wechat.api_base_url)."""
    from waitress import serve as waitress_serve

    from bot.wechat.standin import create_standin

    setup_logging()
    parsed = urlparse(state.config.wechat.api_base_url)
    host = host or parsed.hostname or "127.0.0.1"
    port = port or parsed.port or 8081
    click.echo(f"微信接口替身：http://{host}:{port}/cgi-bin/")
    waitress_serve(create_standin(state.config.wechat.app_id, state.config.wechat.app_secret),
                   host=host, port=port, threads=4)


cli.add_command(questions)
cli.add_command(pushes)
cli.add_command(export)
cli.add_command(data)
cli.add_command(channels)


def main() -> None:
    """Run the CLI; a config problem is one line on stderr and exit code 2."""
    try:
        cli.main(prog_name="python -m bot", standalone_mode=False)
    except ConfigError as exc:
        click.echo(f"配置错误：{exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("已取消。", err=True)
        sys.exit(1)
    except OperationalError as exc:
        # The database is down, unreachable or hung (connect_timeout): one line, not a traceback.
        click.echo(f"无法使用数据库（{describe_db_error(exc)}）：请检查 database.url（或环境变量 DATABASE_URL）"
                   "是否正确、数据库是否已启动，然后重试。", err=True)
        sys.exit(1)
    except click.UsageError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(exc.format_message(), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
