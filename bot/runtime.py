"""What every entry point needs: the config, the database and the API client."""
from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Callable

from bot.config import Config
from bot.storage.db import Database
from bot.storage.models import utcnow
from bot.wechat.api import ApiClient


class Runtime:
    """The config, the database and a lazily built WeChat API client."""

    def __init__(self, config: Config, db: Database | None = None,
                 clock: Callable[[], dt.datetime] = utcnow):
        self.config = config
        self.db = db or Database(config.database_url, config.database_lock_wait_seconds)
        self.clock = clock  # naive UTC now; tests move it to check time windows and expiry

    @cached_property
    def api(self) -> ApiClient:
        return ApiClient(self.config.wechat, self.db)
