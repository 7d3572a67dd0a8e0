"""What every entry point needs: the config, the database and the API client."""
from __future__ import annotations

from functools import cached_property

from .config import Config
from .db import Database
from .wechat_api import ApiClient


class Runtime:
    """The config, the database and a lazily built WeChat API client."""

    def __init__(self, config: Config, db: Database | None = None):
        self.config = config
        self.db = db or Database(config.database_url)

    @cached_property
    def api(self) -> ApiClient:
        return ApiClient(self.config.wechat, self.db)
