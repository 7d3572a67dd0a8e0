"""The Flask application factory."""
from __future__ import annotations

import html
import logging
import time

from flask import Flask, Response, g, jsonify, request
from sqlalchemy import text
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.console import register_admin
from bot.config import Config, load_config
from bot.storage.db import describe_db_error
from bot.runtime import Runtime
from bot.webhook import register_webhook

logger = logging.getLogger("bot.requests")

# A webhook answer slower than this is logged at INFO: WeChat gives up after 5 seconds.
SLOW_REQUEST_MS = 1000.0


def request_log_level(path: str, status: int, elapsed_ms: float, webhook_path: str) -> int:
    """The level of a request's log line.

    Quick, successful webhook answers are DEBUG: during the week they are nearly every request,
    and nginx's access log (deploy/nginx.conf.example) already has a line for each with its
    time. Refused or failed webhook requests, slow answers and every other page stay INFO.
    """
    if path == webhook_path and status < 400 and elapsed_ms < SLOW_REQUEST_MS:
        return logging.DEBUG
    return logging.INFO


ERROR_TEXTS = {
    400: "请求无法处理：页面可能已过期，请返回上一页刷新后再提交。",
    404: "没有这个页面，请检查地址，或回到 <a href=\"/admin/\">工作人员后台</a>。",
    405: "这个地址不能这样打开，请从 <a href=\"/admin/\">工作人员后台</a> 的页面上操作。",
}
ERROR_PAGE = ("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>{code}</title>"
              "<p>{text}</p></html>")


def create_app(config: Config | str | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app: webhook, health check and request log."""
    if runtime is None:
        if not isinstance(config, Config):
            config = load_config(config)
        runtime = Runtime(config)
    config = runtime.config
    app = Flask(__name__)
    if config.server.trusted_proxies:
        # Behind nginx: take the client address from X-Forwarded-For (the admin lock-out is per client).
        n = config.server.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.config["MAX_CONTENT_LENGTH"] = max(config.server.max_body_bytes, 16 * 1024 * 1024)
    app.extensions["bot"] = runtime
    register_webhook(app, config.server.webhook_path)
    register_admin(app, runtime)
    webhook_path = config.server.webhook_path

    @app.get("/healthz")
    def healthz():
        try:
            with runtime.db.reader() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            logger.warning("health check: database unavailable: %s", describe_db_error(exc))
            return jsonify({"status": "error", "database": "unavailable"}), 503
        return jsonify({"status": "ok", "database": "ok"})

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        # Werkzeug's own pages are in English; a person who mistypes an address or resends a form reads Chinese.
        if exc.code not in ERROR_TEXTS or request.path == webhook_path:
            return exc
        # A description written in Chinese by the code that refused (e.g. the CSRF check) is the better text.
        own = exc.description if exc.description != type(exc).description else ""
        text = html.escape(own) if own else ERROR_TEXTS[exc.code]
        return Response(ERROR_PAGE.format(code=exc.code, text=text), status=exc.code, mimetype="text/html")

    @app.before_request
    def _start_timer():
        g.started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        level = request_log_level(request.path, response.status_code, elapsed, webhook_path)
        # The path only: the query string carries signatures and nonces.
        logger.log(level, "%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed)
        return response

    return app
