"""Production gunicorn settings: `gunicorn "bot:create_app()"` reads this file from the working directory.

The config file comes from BOT_CONFIG. Every worker answers any message (no state in memory);
run exactly one `python -m scheduler` beside the workers.
"""
import multiprocessing
import os

bind = os.environ.get("BOT_BIND", "127.0.0.1:8080")
# A quiz turn is CPU work in Python plus a few short queries: one sync worker per core measured
# best (bench/bench_load.py; README: 2 beat 3 and 5 on 2 cores). nginx in front buffers slow
# clients, which is what sync workers need. With PostgreSQL on another host, more workers cover
# the round trips.
workers = int(os.environ.get("BOT_WORKERS", multiprocessing.cpu_count()))
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
