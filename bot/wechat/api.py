"""The WeChat API client: every call, the token included, goes to `wechat.api_base_url`.

The access token is kept in the database (kv_store) so that all web workers, the scheduler
and the CLI share one token instead of invalidating each other's.
"""
from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import delete
from wechatpy import WeChatClient
from wechatpy.session import SessionStorage

from bot.config import WeChatConfig
from bot.storage.db import Database, upsert_insert
from bot.storage.models import KeyValue, utcnow

logger = logging.getLogger(__name__)
# urllib3 logs every request line at DEBUG, and ours carry the app secret or the access token.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

# Refresh a little before WeChat's 2 h expiry so no call goes out with a token about to die.
TOKEN_SAFETY_SECONDS = 300
REFRESH_LOCK = "token-refresh-lock"
REFRESH_WAIT_SECONDS = 15


class DatabaseStorage(SessionStorage):
    """wechatpy session storage backed by the kv_store table."""

    def __init__(self, db: Database, prefix: str = "wechatpy"):
        self.db = db
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def get(self, key, default=None):
        with self.db.reader() as session:
            row = session.get(KeyValue, self._key(key))
            if row is None or (row.expires_at is not None and row.expires_at <= utcnow()):
                return default
            return row.value

    def set(self, key, value, ttl=None):
        expires = None
        if ttl:
            expires = utcnow() + dt.timedelta(seconds=max(int(ttl) - TOKEN_SAFETY_SECONDS, 60))
        with self.db.session() as session:
            # Upsert: two processes may store a freshly fetched token at the same moment.
            insert = upsert_insert(session)
            stmt = insert(KeyValue).values(key=self._key(key), value=value, expires_at=expires)
            session.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                       set_={"value": value, "expires_at": expires}))

    def delete(self, key):
        with self.db.session() as session:
            session.execute(delete(KeyValue).where(KeyValue.key == self._key(key)))


class ApiClient(WeChatClient):
    """WeChatClient whose base URL and token URL come from the config."""

    def __init__(self, wechat: WeChatConfig, db: Database, timeout: float = 10):
        super().__init__(wechat.app_id, wechat.app_secret, session=DatabaseStorage(db), timeout=timeout)
        self.API_BASE_URL = wechat.api_base_url

    def fetch_access_token(self):
        """Fetch a new token from the configured base URL (wechatpy 1.8.18 hard-codes the host)."""
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    @property
    def access_token(self):
        """Return the shared token; when it is missing or stale, one process fetches and the rest wait.

        Every fetch invalidates the previous token within minutes, so processes must not
        each fetch their own: the refresh is claimed through a short lock row first.
        """
        token = self.session.get(self.access_token_key)
        if token:
            return token
        deadline = time.monotonic() + REFRESH_WAIT_SECONDS
        while not self._claim_refresh():
            time.sleep(0.1)
            token = self.session.get(self.access_token_key)
            if token:
                return token
            if time.monotonic() > deadline:
                logger.warning("token refresh lock held too long; fetching anyway")
                break
        try:
            token = self.session.get(self.access_token_key)
            if not token:
                self.fetch_access_token()
                token = self.session.get(self.access_token_key)
            return token
        finally:
            self.session.delete(REFRESH_LOCK)

    def _claim_refresh(self) -> bool:
        """Take the refresh lock row unless another live process holds it."""
        now = utcnow()
        lock_key = self.session._key(REFRESH_LOCK)
        with self.session.db.session() as session:
            insert = upsert_insert(session)
            stmt = insert(KeyValue).values(key=lock_key, value=self.appid,
                                           expires_at=now + dt.timedelta(seconds=REFRESH_WAIT_SECONDS))
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"], set_={"value": self.appid,
                                              "expires_at": now + dt.timedelta(seconds=REFRESH_WAIT_SECONDS)},
                where=KeyValue.expires_at < now).returning(KeyValue.key)
            return session.execute(stmt).first() is not None

    def invalidate_token(self) -> None:
        """Forget the stored token (after 40001/42001) so the next call fetches a new one."""
        self.session.delete(self.access_token_key)

