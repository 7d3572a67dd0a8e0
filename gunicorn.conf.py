"""Production gunicorn settings: `gunicorn "bot:create_app()"` reads this file from the working directory.

The config file comes from BOT_CONFIG. Every worker answers any message (no state in memory);
run exactly one `python -m scheduler` beside the workers.
"""
import logging
import multiprocessing
import os
import re
import tomllib

from gunicorn.glogging import Logger


def default_workers(cores: int, database_url: str | None) -> int:
    """Sync workers when BOT_WORKERS is unset or empty.

    A quiz turn is CPU work in Python plus a few short queries. On SQLite (in-process) one worker
    per core measured best; on PostgreSQL a worker waits for each round trip, and one more worker
    than cores keeps the cores busy meanwhile (bench/bench_load.py, README "性能": on 2 cores, 3
    workers gave 560-680 quiz turns/s against 440-670 for 2, and 4 were no better). nginx in
    front buffers slow clients, which is what sync workers need.
    """
    if database_url and database_url.startswith("postgresql"):
        return cores + 1
    return cores


def _database_url() -> str | None:
    """The database URL the workers will use: DATABASE_URL, else [database] url in BOT_CONFIG.

    Read here without importing the app: the master must not load it, or a reload (HUP) would
    start workers on the old code. None if it cannot be read; the workers then report why.
    """
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    try:
        with open(os.environ.get("BOT_CONFIG") or "config.toml", "rb") as fh:
            database = tomllib.load(fh).get("database")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    url = database.get("url") if isinstance(database, dict) else None
    return url if isinstance(url, str) else None


bind = os.environ.get("BOT_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("BOT_WORKERS") or default_workers(multiprocessing.cpu_count(), _database_url()))
worker_class = os.environ.get("BOT_WORKER_CLASS", "sync")
threads = int(os.environ.get("BOT_THREADS") or 1)
# WeChat gives up after 5 seconds and retries; a request still running after that is wasted.
timeout = int(os.environ.get("BOT_TIMEOUT") or 30)
graceful_timeout = 20
keepalive = 5
# Each worker opens its own database connections after the fork.
preload_app = False
max_requests = 20000
max_requests_jitter = 2000
# nginx logs every request with its time; the app logs refusals, failures and slow answers at INFO
# and every request at BOT_LOG_LEVEL=debug.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("BOT_LOG_LEVEL") or "info"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


# A WeChat request's query string: signature, timestamp and nonce together sign it, so a log line
# holding them could be replayed; echostr and openid are left out as well. Defined here, not in bot/:
# the master must not import the app (see _database_url).
_SIGNED_PARAMS = re.compile(r"(?i)\b(signature|msg_signature|timestamp|nonce|echostr|openid)=[^&\s\"']*")


def redact_query(text: str) -> str:
    """Replace the values of a request's signing parameters in a log line with …."""
    return _SIGNED_PARAMS.sub(r"\1=…", text)


class RedactSignedQuery(logging.Filter):
    """Redact signing parameters from a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_query(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingLogger(Logger):
    """gunicorn's logger, with signatures taken out of every line.

    When a request fails or its worker times out, gunicorn logs "Error handling request
    /wechat?signature=…&timestamp=…&nonce=…": a query string that could be replayed inside the
    timestamp window. Every error and access line passes through RedactSignedQuery.
    """

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(RedactSignedQuery())


logger_class = RedactingLogger


def post_fork(server, worker):
    """Log through gunicorn's error log at its level (BOT_LOG_LEVEL or --log-level); each line names the worker."""
    logging.basicConfig(level=server.cfg.loglevel.upper(),
                        format="%(asctime)s %(levelname)s [pid %(process)d] %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSignedQuery())
