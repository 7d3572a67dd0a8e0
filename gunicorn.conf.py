"""Production gunicorn settings: `gunicorn "bot:create_app()"` reads this file from the working directory.

The config file comes from BOT_CONFIG. Every worker answers any message (no state in memory);
run exactly one `python -m scheduler` beside the workers.
"""
import multiprocessing
import os


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
    """The database the app will use (BOT_CONFIG and DATABASE_URL); None if the config cannot be read,
    in which case the workers report the problem themselves."""
    try:
        from bot.config import load_config

        return load_config().database_url
    except Exception:  # noqa: BLE001 - only a default is chosen here
        return None


bind = os.environ.get("BOT_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("BOT_WORKERS") or default_workers(multiprocessing.cpu_count(), _database_url()))
worker_class = os.environ.get("BOT_WORKER_CLASS", "sync")
threads = int(os.environ.get("BOT_THREADS", 1))
# WeChat gives up after 5 seconds and retries; a request still running after that is wasted.
timeout = int(os.environ.get("BOT_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Each worker opens its own database connections after the fork.
preload_app = False
max_requests = 20000
max_requests_jitter = 2000
accesslog = None  # the app logs one line per request with its outcome and time
errorlog = "-"
loglevel = os.environ.get("BOT_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    """Log through gunicorn's error log so each line names the worker."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [pid %(process)d] %(name)s: %(message)s")
