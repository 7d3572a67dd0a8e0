"""What every entry point needs: the config, the database and the API client."""
from __future__ import annotations

import datetime as dt
import time
from functools import cached_property
from typing import Callable

from bot.config import Config
from bot.storage.db import Database
from bot.storage.models import utcnow
from bot.wechat.api import ApiClient


class Runtime:
    """The config, the database and a lazily built WeChat API client."""

    def __init__(self, config: Config, db: Database | None = None,
                 clock: Callable[[], dt.datetime] = utcnow, wall_clock: Callable[[], float] = time.time):
        self.config = config
        self.db = db or Database(config.database_url, config.database_lock_wait_seconds)
        self.clock = clock  # naive UTC now; tests move it to check time windows and expiry
        # Unix time, as WeChat signs requests with it: the activity clock above may be a test's 2027.
        self.wall_clock = wall_clock

    @cached_property
    def api(self) -> ApiClient:
        return ApiClient(self.config.wechat, self.db)
