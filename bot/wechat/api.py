"""The WeChat API client: every call, the token included, goes to `wechat.api_base_url`.

The access token comes from `cgi-bin/stable_token` and is kept in the database (kv_store), so
that all web workers, the scheduler and the CLI share one token. What WeChat documents about it
(https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken,
https://developers.weixin.qq.com/doc/subscription/api/base/api_getstableaccesstoken.html):

- POST JSON only: grant_type=client_credential, appid, secret, force_refresh (default false);
  tokens from it are isolated from `cgi-bin/token`'s, so another tool on that call cannot
  invalidate ours.
- Normal mode (force_refresh false): while a token is valid every call returns the same one;
  WeChat renews it 5 minutes before expiry and keeps old and new valid for those 5 minutes, so
  `expires_in` (the time left) is at least 300 s.
- Forced mode invalidates the previous token at once for every holder; 20 a day, and calls less
  than 30 s apart do not refresh. 10,000 calls a minute, 500,000 a day in all.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

import requests
from sqlalchemy import delete
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from bot.config import WeChatConfig
from bot.storage.db import Database, upsert_insert
from bot.storage.models import KeyValue, utcnow

logger = logging.getLogger(__name__)
# urllib3 logs every request line at DEBUG, and ours carry the access token.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

# WeChat renews a stable token 5 minutes before it expires: stop using ours at that moment.
TOKEN_SAFETY_SECONDS = 300
REFRESH_LOCK = "token-refresh-lock"
REFRESH_WAIT_SECONDS = 15
# The token was rejected: invalid (40001), not a token (40014) or expired (42001).
TOKEN_ERRORS = frozenset({40001, 40014, 42001})

# Channel codes (https://developers.weixin.qq.com/doc/service/api/qrcode/qrcodes/api_createqrcode.html):
# qrcode/create returns a ticket, and the image is fetched with it, URL-encoded, from mp.weixin.qq.com,
# not from the API host, and without a token. A stand-in at any other api_base_url serves it there.
SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"
WECHAT_DOMAIN = "weixin.qq.com"
IMAGE_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg"}


def showqrcode_url(api_base_url: str, ticket: str) -> str:
    """Return where the image of a code's ticket is served: WeChat's mp host, or the stand-in's base."""
    host = urlsplit(api_base_url).hostname or ""
    wechat = host == WECHAT_DOMAIN or host.endswith("." + WECHAT_DOMAIN)
    base = SHOWQRCODE_URL if wechat else f"{api_base_url}showqrcode"
    return f"{base}?ticket={quote(ticket, safe='')}"


def image_kind(data: bytes) -> str | None:
    """Return "png" or "jpg" from an image's first bytes, or None when the bytes are not one of them."""
    for signature, kind in IMAGE_SIGNATURES.items():
        if data.startswith(signature):
            return kind
    return None


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


def rejected_token(exc: WeChatClientException) -> str | None:
    """Return the access token the failed call carried, read from its request URL."""
    url = getattr(exc.request, "url", None) or ""
    return parse_qs(urlsplit(url).query).get("access_token", [None])[0]


class ApiClient(WeChatClient):
    """WeChatClient whose base URL comes from the config and whose token is the shared stable token.

    With `retry_rejected_token` a call WeChat answers 40001/40014/42001 gets a replaced token and
    is made once more; callers with their own retry policy (the mass sends) turn it off.
    """

    def __init__(self, wechat: WeChatConfig, db: Database, timeout: float = 10, *,
                 retry_rejected_token: bool = True):
        # wechatpy's own retry refetches the token and calls again without bound; ours is below.
        super().__init__(wechat.app_id, wechat.app_secret, session=DatabaseStorage(db), timeout=timeout,
                         auto_retry=False)
        self.API_BASE_URL = wechat.api_base_url
        self.retry_rejected_token = retry_rejected_token

    def fetch_access_token(self, force_refresh: bool = False) -> dict:
        """Fetch the token from `stable_token` at the configured base and store it for every process."""
        logger.info("fetching the access token (stable_token%s)", ", force_refresh" if force_refresh else "")
        res = self._http.post(f"{self.API_BASE_URL}stable_token", timeout=self.timeout,
                              json={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
                                    "force_refresh": force_refresh})
        try:
            res.raise_for_status()
        except requests.RequestException as exc:
            raise WeChatClientException(errcode=None, errmsg=None, client=self, request=exc.request,
                                        response=exc.response) from None
        result = res.json()
        if result.get("errcode"):
            raise WeChatClientException(result["errcode"], result.get("errmsg", ""), client=self,
                                        request=res.request, response=res)
        self.session.set(self.access_token_key, result["access_token"], int(result.get("expires_in", 7200)))
        return result

    @property
    def access_token(self):
        """Return the shared token; when it is missing or stale, one process fetches and the rest wait."""
        return self._refreshed(usable=lambda: self.session.get(self.access_token_key),
                               fetch=lambda: self.fetch_access_token()["access_token"])

    def replace_rejected_token(self, rejected: str | None) -> str:
        """Return a token to retry with after WeChat rejected `rejected` (None: the stored one).

        If another process has replaced it already, that token is used. Otherwise stable_token in
        normal mode returns WeChat's current token, which differs when the rejected one was
        replaced elsewhere (a forced refresh by another tool); only when WeChat hands back the
        very token it rejected is force_refresh used. A forced refresh invalidates the token for
        every process, and WeChat allows 20 a day, so it is never the first remedy.
        """
        rejected = rejected or self.session.get(self.access_token_key)

        def usable():
            token = self.session.get(self.access_token_key)
            return token if token and token != rejected else None

        def fetch():
            token = self.fetch_access_token()["access_token"]
            if token == rejected:
                logger.warning("WeChat rejected its current access token; forcing a refresh")
                token = self.fetch_access_token(force_refresh=True)["access_token"]
            return token

        return self._refreshed(usable=usable, fetch=fetch)

    def _refreshed(self, *, usable: Callable[[], str | None], fetch: Callable[[], str]) -> str:
        """Return a usable stored token, or fetch one under the refresh lock while other processes wait.

        Tokens are shared, so processes must not each refresh their own: the refresh is claimed
        through a short lock row first, and the others pick up what it stores.
        """
        token = usable()
        if token:
            return token
        deadline = time.monotonic() + REFRESH_WAIT_SECONDS
        while not self._claim_refresh():
            time.sleep(0.1)
            token = usable()
            if token:
                return token
            if time.monotonic() > deadline:
                logger.warning("token refresh lock held too long; fetching anyway")
                break
        try:
            return usable() or fetch()
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

    def _request(self, method, url_or_endpoint, **kwargs):
        params = kwargs.setdefault("params", {})
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except WeChatClientException as exc:
            # An upload's file has been read by the first call, so its caller retries it instead.
            if (not self.retry_rejected_token or exc.errcode not in TOKEN_ERRORS or "files" in kwargs
                    or not isinstance(params, dict)):
                raise
            logger.info("access token rejected (%s); retrying once with a replaced token", exc.errcode)
            params["access_token"] = self.replace_rejected_token(rejected_token(exc))
            return super()._request(method, url_or_endpoint, **kwargs)

    def create_channel_qrcode(self, scene: str) -> dict:
        """Create the permanent code of a scene string (QR_LIMIT_STR_SCENE); return WeChat's ticket and url."""
        return self.post("qrcode/create", data={"action_name": "QR_LIMIT_STR_SCENE",
                                                "action_info": {"scene": {"scene_str": scene}}})

    def qrcode_image(self, ticket: str) -> bytes:
        """Download the image of a code's ticket; raise WeChatClientException when the answer is no image."""
        res = self._http.get(showqrcode_url(self.API_BASE_URL, ticket), timeout=self.timeout)
        if res.status_code == 200 and image_kind(res.content):
            return res.content
        try:
            answer = res.json()
        except ValueError:
            answer = {}
        errcode = answer.get("errcode") if isinstance(answer, dict) else None
        errmsg = answer.get("errmsg", "") if isinstance(answer, dict) else ""
        raise WeChatClientException(errcode=errcode, errmsg=errmsg or f"微信返回的不是图片（HTTP {res.status_code}）",
                                    client=self, request=res.request, response=res)
