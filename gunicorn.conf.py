"""Production gunicorn settings: `gunicorn "bot:create_app()"` reads this file from the working directory.

The config file comes from BOT_CONFIG. Every worker answers any message (no state in memory);
run exactly one `python -m scheduler` beside the workers.
"""
import multiprocessing
import os

bind = os.environ.get("BOT_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("BOT_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = os.environ.get("BOT_WORKER_CLASS", "gthread")
threads = int(os.environ.get("BOT_THREADS", 4))
# WeChat gives up after 5 seconds and retries; a request still running after that is wasted.
timeout = int(os.environ.get("BOT_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
# Each worker gets its own listening socket, so the kernel spreads keep-alive connections
# across workers instead of one worker accepting most of them.
reuse_port = True
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
