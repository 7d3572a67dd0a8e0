"""Load and validate the TOML config file; every problem names the file, the key and the fix."""
from __future__ import annotations

import datetime as dt
import difflib
import functools
import importlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG = "config.toml"

# Secrets that may come from the environment instead of the file: (env var, section, key).
ENV_OVERRIDES = (
    ("WECHAT_APP_SECRET", "wechat", "app_secret"),
    ("WECHAT_TOKEN", "wechat", "token"),
    ("WECHAT_ENCODING_AES_KEY", "wechat", "encoding_aes_key"),
    ("DATABASE_URL", "database", "url"),
    ("ADMIN_PASSWORD", "admin", "password"),
)

# Never echoed in an error message: a mistyped secret would end up on a terminal or in the journal.
SECRET_KEYS = frozenset({(section, key) for _, section, key in ENV_OVERRIDES} | {("admin", "secret_key")})

# wechat.message_mode: the account's 消息加解密方式, and how an error names it.
MESSAGE_MODES = {"plaintext": "明文模式", "compatible": "兼容模式", "safe": "安全模式"}

ACTIONS = ("help", "schedule", "quiz", "lectures", "rank", "leaderboard", "quit", "contact")


class ConfigError(Exception):
    """A config problem a person can fix; str() is one line naming file, key and expectation."""


@dataclass(frozen=True)
class WeChatConfig:
    app_id: str
    app_secret: str
    token: str
    encoding_aes_key: str
    api_base_url: str
    account_type: str
    staff_openids: tuple[str, ...] = ()
    standin: bool = False  # serve runs the local WeChat API stand-in at api_base_url
    message_mode: str = "plaintext"  # plaintext, compatible or safe, as set in the account's 消息加解密方式
    timestamp_window_seconds: int = 300  # a signed request older or newer than this is refused

    @property
    def encrypted(self) -> bool:
        return bool(self.encoding_aes_key)


@dataclass(frozen=True)
class ServerConfig:
    webhook_path: str = "/wechat"
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 64 * 1024
    threads: int = 8
    trusted_proxies: int = 0  # reverse proxies in front that set X-Forwarded-For


@dataclass(frozen=True)
class ActivityConfig:
    name: str
    theme: str
    timezone: str
    start: dt.datetime  # aware, in `tz`
    end: dt.datetime
    hotline: str = "12330"
    organizer: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Reply:
    id: str
    words: tuple[str, ...]
    text: str
    label: str = ""  # how the keyword list describes it, e.g. "知识产权维权援助热线"


@dataclass(frozen=True)
class MenuButton:
    name: str
    key: str = ""
    url: str = ""
    sub: tuple["MenuButton", ...] = ()


@dataclass(frozen=True)
class QuizConfig:
    bank: str = "default"
    questions_per_attempt: int = 10
    time_limit_minutes: int = 30
    max_attempts: int = 3
    max_attempts_per_day: int = 1
    pass_score: int = 100
    default_points: int = 10
    feedback: bool = True
    partial_credit: bool = False
    collect_contact: bool = True
    draw_types: dict[str, int] = field(default_factory=dict)
    draw_categories: dict[str, int] = field(default_factory=dict)
    testers: tuple[str, ...] = ()  # openids that may play outside the window; left out of results
    closes_at: dt.datetime | None = None  # aware, local: answering stops (default: activity.end)
    results_at: dt.datetime | None = None  # when results are published (None: not said)
    results_text: str = ""  # where and when, told to followers after the close (default from results_at)
    seconds_per_question: int = 0  # 0: no limit per question; else an answer after it scores zero


@dataclass(frozen=True)
class AdminConfig:
    password: str = ""
    secret_key: str = ""
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    max_failed_logins_per_minute: int = 30  # from all addresses together; beyond it every login waits a minute


@dataclass(frozen=True)
class PrivacyConfig:
    retention_days: int = 90


@dataclass(frozen=True)
class RateLimitConfig:
    messages: int = 20  # per follower per window; 0 turns the limit off
    window_seconds: int = 10


@dataclass(frozen=True)
class Config:
    source: str
    wechat: WeChatConfig
    server: ServerConfig
    database_url: str
    database_lock_wait_seconds: float
    activity: ActivityConfig
    quiz: QuizConfig
    keywords: dict[str, tuple[str, ...]]
    replies: tuple[Reply, ...]
    menu: tuple[MenuButton, ...]
    admin: AdminConfig
    privacy: PrivacyConfig
    ratelimit: RateLimitConfig
    raw: dict[str, Any]

    def section(self, name: str) -> dict[str, Any]:
        """Return a raw table of the file (for packages that validate their own sections)."""
        value = self.raw.get(name, {})
        return value if isinstance(value, dict) else {}


DEFAULT_KEYWORDS: dict[str, tuple[str, ...]] = {
    "help": ("帮助", "help", "?", "？", "菜单"),
    "schedule": ("活动安排", "日程", "安排"),
    "quiz": ("答题", "竞答", "开始答题", "有奖竞答"),
    "lectures": ("微讲堂", "讲堂", "视频"),
    "rank": ("排名", "成绩", "我的成绩"),
    "leaderboard": ("排行榜", "排行", "光荣榜"),
    "quit": ("放弃", "交卷", "退出", "结束", "结束答题", "提前交卷"),
    "contact": ("领奖", "登记", "修改信息"),
}


class _Reader:
    """Typed access to the raw TOML tables with error messages that name the key."""

    def __init__(self, source: str, data: dict[str, Any]):
        self.source = source
        self.data = data

    def fail(self, key: str, expected: str, got: Any = None) -> ConfigError:
        if isinstance(got, (dt.date, dt.time)):
            got = got.isoformat()
        shown = "" if got is None else f"，当前为 {got!r}"
        return ConfigError(f"{self.source}: {key}: 应为{expected}{shown}")

    def table(self, name: str, required: bool = True) -> dict[str, Any]:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ConfigError(f"{self.source}: [{name}]: 缺少该配置节，请参照 config.example.toml 补充")
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"[{name}]", "一个配置节（[...] 表）", value)
        return value

    def get(self, table: dict, section: str, key: str, kind: type | tuple, expected: str,
            default: Any = ..., ) -> Any:
        full = f"{section}.{key}"
        if key not in table:
            if default is ...:
                raise ConfigError(f"{self.source}: {full}: 缺少该项，应为{expected}")
            return default
        value = table[key]
        shown = None if (section, key) in SECRET_KEYS else value
        if isinstance(value, bool) and kind in (int, (int,)):
            raise self.fail(full, expected, shown)
        if not isinstance(value, kind):
            raise self.fail(full, expected, shown)
        return value


def _positive(reader: _Reader, value: int, key: str, allow_zero: bool = False) -> int:
    if value < 0 or (value == 0 and not allow_zero):
        raise reader.fail(key, "正整数", value)
    return value


def _port(reader: _Reader, value: int, key: str) -> int:
    if not 1 <= value <= 65535:
        raise reader.fail(key, " 1–65535 之间的端口号", value)
    return value


def _local_time(reader: _Reader, value: Any, key: str, tz: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=tz)
        return value.astimezone(tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0, 0), tzinfo=tz)
    raise reader.fail(key, "本地日期时间，如 2027-04-20T00:00:00", value)


def _str_tuple(reader: _Reader, value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise reader.fail(key, "字符串列表，如 [\"答题\", \"竞答\"]", value)
    return tuple(v.strip() for v in value)


def _count_table(reader: _Reader, value: Any, key: str) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
    ):
        raise reader.fail(key, "名称到数量的表，如 { 单选 = 6, 多选 = 2 }", value)
    return dict(value)


def _menu(reader: _Reader, items: Any, key: str, depth: int = 0) -> tuple[MenuButton, ...]:
    if not isinstance(items, list):
        raise reader.fail(key, "按钮列表（[[menu]]）", items)
    limit = 3 if depth == 0 else 5
    if len(items) > limit:
        raise reader.fail(key, f"最多 {limit} 个按钮", len(items))
    buttons = []
    for i, item in enumerate(items, 1):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise reader.fail(where, "按钮表", item)
        name = reader.get(item, where, "name", str, "按钮文字")
        sub = ()
        if "sub" in item:
            if depth:
                raise reader.fail(f"{where}.sub", "二级菜单下不能再有子菜单")
            sub = _menu(reader, item["sub"], f"{where}.sub", depth + 1)
        btn_key = reader.get(item, where, "key", str, "动作名或回复 id", "")
        url = reader.get(item, where, "url", str, "以 http 开头的网址", "")
        if not sub and not btn_key and not url:
            raise reader.fail(where, "key（点击动作）、url（跳转链接）或 sub（子菜单）之一")
        buttons.append(MenuButton(name=name, key=btn_key, url=url, sub=sub))
    return tuple(buttons)


def parse_config(data: dict[str, Any], source: str, environ: dict[str, str] | None = None) -> Config:
    """Validate a parsed TOML document and return the typed config."""
    environ = os.environ if environ is None else environ
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for env, section, key in ENV_OVERRIDES:
        if environ.get(env):
            data.setdefault(section, {})
            if isinstance(data[section], dict):
                data[section][key] = environ[env]
    r = _Reader(source, data)
    _check_known_keys(r)

    w = r.table("wechat")
    aes = r.get(w, "wechat", "encoding_aes_key", str, "空字符串（明文模式）或 43 个字符", "")
    if aes and len(aes) != 43:
        raise r.fail("wechat.encoding_aes_key", "空字符串（明文模式）或 43 个字符的 EncodingAESKey",
                      f"{len(aes)} 个字符")
    account_type = r.get(w, "wechat", "account_type", str, "\"subscription\" 或 \"service\"", "subscription")
    if account_type not in ("subscription", "service"):
        raise r.fail("wechat.account_type", "\"subscription\"（订阅号）或 \"service\"（服务号）", account_type)
    api_base = r.get(w, "wechat", "api_base_url", str, "以 http 开头、以 / 结尾的网址",
                     "https://api.weixin.qq.com/cgi-bin/")
    if not api_base.startswith(("http://", "https://")):
        raise r.fail("wechat.api_base_url", "以 http:// 或 https:// 开头的网址", api_base)
    if not api_base.endswith("/"):
        api_base += "/"
    mode = r.get(w, "wechat", "message_mode", str, "\"plaintext\"、\"compatible\" 或 \"safe\"",
                 "compatible" if aes else "plaintext")
    if mode not in MESSAGE_MODES:
        raise r.fail("wechat.message_mode", "\"plaintext\"（明文模式）、\"compatible\"（兼容模式）或 \"safe\"（安全模式），"
                     "与公众号后台“消息加解密方式”一致", mode)
    if mode != "plaintext" and not aes:
        raise r.fail("wechat.message_mode", f"\"plaintext\"，或者同时填写 wechat.encoding_aes_key（{MESSAGE_MODES[mode]}需要它）",
                     mode)
    window = _positive(r, r.get(w, "wechat", "timestamp_window_seconds", int, "秒数，如 300", 300),
                       "wechat.timestamp_window_seconds")
    token = r.get(w, "wechat", "token", str, "公众号后台填写的 Token（3-32 个字母或数字）")
    if not token:
        raise r.fail("wechat.token", "非空的 Token（也可用环境变量 WECHAT_TOKEN）")
    wechat = WeChatConfig(
        app_id=r.get(w, "wechat", "app_id", str, "公众号 AppID，如 wx1234567890abcdef"),
        app_secret=r.get(w, "wechat", "app_secret", str, "AppSecret（也可用环境变量 WECHAT_APP_SECRET）"),
        token=token,
        encoding_aes_key=aes,
        api_base_url=api_base,
        account_type=account_type,
        staff_openids=_str_tuple(r, w.get("staff_openids", []), "wechat.staff_openids")
        if w.get("staff_openids") else (),
        standin=r.get(w, "wechat", "standin", bool, "true 或 false", False),
        message_mode=mode,
        timestamp_window_seconds=window,
    )

    s = r.table("server", required=False)
    path = r.get(s, "server", "webhook_path", str, "以 / 开头的路径", "/wechat")
    if not path.startswith("/"):
        raise r.fail("server.webhook_path", "以 / 开头的路径，如 \"/wechat\"", path)
    server = ServerConfig(
        webhook_path=path,
        host=r.get(s, "server", "host", str, "监听地址", "127.0.0.1"),
        port=_port(r, r.get(s, "server", "port", int, "端口号", 8080), "server.port"),
        max_body_bytes=_positive(r, r.get(s, "server", "max_body_bytes", int, "字节数", 64 * 1024),
                                 "server.max_body_bytes"),
        threads=_positive(r, r.get(s, "server", "threads", int, "线程数", 8), "server.threads"),
        trusted_proxies=_positive(r, r.get(s, "server", "trusted_proxies", int, "前置反向代理的层数（0 或 1）", 0),
                                  "server.trusted_proxies", allow_zero=True),
    )

    d = r.table("database")
    url = r.get(d, "database", "url", str, "SQLAlchemy 数据库地址，如 sqlite:///instance/bot.db")
    if "://" not in url:
        raise r.fail("database.url", "SQLAlchemy 数据库地址，如 sqlite:///instance/bot.db（地址里可能有密码，此处不显示）")

    _check_database_url(r, url)
    lock_wait = r.get(d, "database", "lock_wait_seconds", (int, float), "秒数，如 3", 3)
    if isinstance(lock_wait, bool) or not 0 < lock_wait <= 60:
        raise r.fail("database.lock_wait_seconds", "0 到 60 之间的秒数（微信 5 秒内要收到回复，建议 3）", lock_wait)

    a = r.table("activity")
    tzname = r.get(a, "activity", "timezone", str, "时区名，如 Asia/Shanghai", "Asia/Shanghai")
    try:
        tz = ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("activity.timezone", "IANA 时区名，如 Asia/Shanghai", tzname) from None
    if "start" not in a:
        raise ConfigError(f"{source}: activity.start: 缺少该项，应为本地日期时间，如 2027-04-20T00:00:00")
    if "end" not in a:
        raise ConfigError(f"{source}: activity.end: 缺少该项，应为本地日期时间，如 2027-04-26T23:59:59")
    start = _local_time(r, a["start"], "activity.start", tz)
    end = _local_time(r, a["end"], "activity.end", tz)
    if end <= start:
        raise r.fail("activity.end", "晚于 activity.start 的时间", a["end"])
    activity = ActivityConfig(
        name=r.get(a, "activity", "name", str, "活动名称"),
        theme=r.get(a, "activity", "theme", str, "活动主题", ""),
        timezone=tzname,
        start=start,
        end=end,
        hotline=r.get(a, "activity", "hotline", str, "维权援助热线", "12330"),
        organizer=r.get(a, "activity", "organizer", str, "主办单位", ""),
    )

    q = r.table("quiz")
    ints = {}
    for key, default, zero in (("questions_per_attempt", 10, False), ("time_limit_minutes", 30, False),
                               ("max_attempts", 3, False), ("max_attempts_per_day", 1, False),
                               ("pass_score", 100, True), ("default_points", 10, False)):
        ints[key] = _positive(r, r.get(q, "quiz", key, int, "正整数", default), f"quiz.{key}", zero)
    closes_at = _local_time(r, q["closes_at"], "quiz.closes_at", tz) if "closes_at" in q else end
    if not start < closes_at <= end:
        raise r.fail("quiz.closes_at", "activity.start 与 activity.end 之间的本地时间（答题截止时间）",
                     q["closes_at"])
    results_at = _local_time(r, q["results_at"], "quiz.results_at", tz) if "results_at" in q else None
    if results_at is not None and results_at < closes_at:
        raise r.fail("quiz.results_at", "不早于答题截止时间（quiz.closes_at）的本地时间", q["results_at"])
    seconds = _positive(r, r.get(q, "quiz", "seconds_per_question", int, "每题限时秒数（0 表示不限）", 0),
                        "quiz.seconds_per_question", allow_zero=True)
    if 0 < seconds < 10:
        raise r.fail("quiz.seconds_per_question", "0（不限时）或至少 10 秒（读题也要时间）", seconds)
    quiz = QuizConfig(
        closes_at=closes_at,
        results_at=results_at,
        results_text=r.get(q, "quiz", "results_text", str, "公布获奖名单的时间和地方", ""),
        seconds_per_question=seconds,
        bank=r.get(q, "quiz", "bank", str, "题库名称", "default"),
        feedback=r.get(q, "quiz", "feedback", bool, "true 或 false", True),
        partial_credit=r.get(q, "quiz", "partial_credit", bool, "true 或 false", False),
        collect_contact=r.get(q, "quiz", "collect_contact", bool, "true 或 false", True),
        draw_types=_count_table(r, q.get("draw_types", {}), "quiz.draw_types"),
        draw_categories=_count_table(r, q.get("draw_categories", {}), "quiz.draw_categories"),
        testers=_str_tuple(r, q["testers"], "quiz.testers") if q.get("testers") else (),
        **ints,
    )
    for label, counts in (("draw_types", quiz.draw_types), ("draw_categories", quiz.draw_categories)):
        if counts and sum(counts.values()) != quiz.questions_per_attempt:
            raise r.fail(f"quiz.{label}", f"各数量之和等于 questions_per_attempt（{quiz.questions_per_attempt}）",
                          sum(counts.values()))
    unknown_types = set(quiz.draw_types) - {"单选", "多选", "判断", "填空"}
    if unknown_types:
        raise r.fail("quiz.draw_types", "题型名为 单选/多选/判断/填空", sorted(unknown_types))

    kw = r.table("keywords", required=False)
    keywords = dict(DEFAULT_KEYWORDS)
    for action, words in kw.items():
        if action not in ACTIONS:
            raise r.fail(f"keywords.{action}", "以下动作之一：" + "、".join(ACTIONS), action)
        keywords[action] = _str_tuple(r, words, f"keywords.{action}")

    replies = []
    raw_replies = data.get("replies", [])
    if not isinstance(raw_replies, list):
        raise r.fail("replies", "回复列表（[[replies]]）", raw_replies)
    seen_ids = set(ACTIONS)
    for i, item in enumerate(raw_replies, 1):
        where = f"replies[{i}]"
        if not isinstance(item, dict):
            raise r.fail(where, "回复表", item)
        rid = r.get(item, where, "id", str, "回复 id（字母），菜单按钮用它引用这条回复")
        if rid in seen_ids:
            raise r.fail(f"{where}.id", "与动作名和其他回复不重复的 id", rid)
        seen_ids.add(rid)
        text = r.get(item, where, "text", str, "回复文字")
        if len(text.encode("utf-8")) > 2000:
            raise r.fail(f"{where}.text", "不超过 2000 字节的文字（微信被动回复上限）",
                          f"{len(text.encode('utf-8'))} 字节")
        replies.append(Reply(id=rid, words=_str_tuple(r, item.get("words", []), f"{where}.words")
                             if item.get("words") else (), text=text,
                             label=r.get(item, where, "label", str, "关键词列表里的说明文字", "")))

    menu = _menu(r, data.get("menu", []), "menu") if data.get("menu") else ()
    for btn in [b for top in menu for b in (top, *top.sub)]:
        if btn.key and btn.key not in seen_ids:
            raise r.fail(f"menu「{btn.name}」.key", "动作名（" + "、".join(ACTIONS) + "）或某条 [[replies]] 的 id",
                          btn.key)

    ad = r.table("admin", required=False)
    admin = AdminConfig(
        password=r.get(ad, "admin", "password", str, "后台登录密码（也可用环境变量 ADMIN_PASSWORD）", ""),
        secret_key=r.get(ad, "admin", "secret_key", str, "随机字符串，用于签名登录会话", ""),
        max_failed_logins=r.get(ad, "admin", "max_failed_logins", int, "正整数", 5),
        lockout_minutes=r.get(ad, "admin", "lockout_minutes", int, "正整数", 15),
        max_failed_logins_per_minute=_positive(
            r, r.get(ad, "admin", "max_failed_logins_per_minute", int, "正整数（所有地址合计）", 30),
            "admin.max_failed_logins_per_minute"),
    )
    pv = r.table("privacy", required=False)
    privacy = PrivacyConfig(
        retention_days=_positive(r, r.get(pv, "privacy", "retention_days", int, "天数", 90),
                                 "privacy.retention_days"),
    )
    rl = r.table("ratelimit", required=False)
    ratelimit = RateLimitConfig(
        messages=_positive(r, r.get(rl, "ratelimit", "messages", int, "每个粉丝每个时间窗内的消息数（0 表示不限）", 20),
                           "ratelimit.messages", allow_zero=True),
        window_seconds=_positive(r, r.get(rl, "ratelimit", "window_seconds", int, "秒数", 10),
                                 "ratelimit.window_seconds"),
    )
    config = Config(source=source, wechat=wechat, server=server, database_url=url,
                    database_lock_wait_seconds=float(lock_wait), activity=activity,
                    quiz=quiz, keywords=keywords, replies=tuple(replies), menu=menu, admin=admin,
                    privacy=privacy, ratelimit=ratelimit, raw=data)
    _run_section_checks(config)
    return config


@dataclass(frozen=True)
class SectionSpec:
    """A config section a package declares: its known keys, and the check run when a file is loaded."""

    name: str
    keys: frozenset[str]
    array: bool = False  # [[name]]: a list of tables, each with these keys
    nested: str = ""  # an item key that holds a list of items of the same keys ([[menu]]'s sub)
    check: Callable[["Config"], object] | None = None  # raises ConfigError naming the file and key


_DECLARED: dict[str, SectionSpec] = {}

# Packages above bot's lower layers declare their own sections (declare_section) when imported.
# bot.config is the bottom layer, so it imports them by name, when a file is loaded, and never by an
# import statement: the packages' layering stays one way.
SECTION_MODULES = ("scheduler.plan", "exports.settings", "bot.quiz.fairplay", "bot.quiz.prizes", "bot.quiz.details")


def declare_section(name: str, *, keys, array: bool = False, nested: str = "",
                    check: Callable[["Config"], object] | None = None) -> None:
    """Declare a config section: the keys it may hold and how it is checked when a file is loaded."""
    _DECLARED[name] = SectionSpec(name=name, keys=frozenset(keys), array=array, nested=nested, check=check)


declare_section("wechat", keys={"app_id", "app_secret", "token", "encoding_aes_key", "api_base_url", "account_type",
                                "staff_openids", "standin", "message_mode", "timestamp_window_seconds"})
declare_section("server", keys={"webhook_path", "host", "port", "max_body_bytes", "threads", "trusted_proxies"})
declare_section("database", keys={"url", "lock_wait_seconds"})
declare_section("activity", keys={"name", "theme", "timezone", "start", "end", "hotline", "organizer"})
declare_section("quiz", keys={"bank", "questions_per_attempt", "time_limit_minutes", "max_attempts",
                              "max_attempts_per_day", "pass_score", "default_points", "feedback", "partial_credit",
                              "collect_contact", "draw_types", "draw_categories", "testers", "closes_at",
                              "results_at", "results_text", "seconds_per_question"})
declare_section("keywords", keys=set(ACTIONS))
declare_section("replies", keys={"id", "words", "text", "label"}, array=True)
declare_section("menu", keys={"name", "key", "url", "sub"}, array=True, nested="sub")
declare_section("admin", keys={"password", "secret_key", "max_failed_logins", "lockout_minutes", "cookie_secure",
                              "max_failed_logins_per_minute"})
declare_section("privacy", keys={"retention_days"})
declare_section("ratelimit", keys={"messages", "window_seconds"})


def declared_sections() -> dict[str, SectionSpec]:
    """Every declared section, the packages' included."""
    for module in SECTION_MODULES:
        importlib.import_module(module)
    return _DECLARED


def _unknown(source: str, parent: str, key: str, known) -> ConfigError:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f"，是否想写 {parent}.{close[0]}？" if close else f"；可用的项：{'、'.join(sorted(known))}"
    return ConfigError(f"{source}: {parent}.{key}: 没有这个配置项{hint}")


def _check_known_keys(reader: _Reader) -> None:
    """Refuse a misspelt section or key (quiz.bnak, [schedular]) rather than silently using the default."""
    sections = declared_sections()
    for name, value in reader.data.items():
        spec = sections.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, sorted(sections), n=1)
            hint = f"，是否想写 [{close[0]}]？" if close else ""
            raise ConfigError(f"{reader.source}: [{name}]: 没有这个配置节{hint}")
        if spec.array:
            if isinstance(value, list):
                _check_items(reader, spec, value, name)
        elif isinstance(value, dict):
            for key in value:
                if key not in spec.keys:
                    raise _unknown(reader.source, name, key, spec.keys)


def _check_items(reader: _Reader, spec: SectionSpec, items: list, where: str) -> None:
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            continue  # the section's own check says what an item should be
        for key in item:
            if key not in spec.keys:
                raise _unknown(reader.source, f"{where}[{i}]", key, spec.keys)
        if spec.nested and isinstance(item.get(spec.nested), list):
            _check_items(reader, spec, item[spec.nested], f"{where}[{i}].{spec.nested}")


def _run_section_checks(config: "Config") -> None:
    """Run every declared section's own check, so a wrong value stops the start, not a later message."""
    for spec in declared_sections().values():
        if spec.check is not None:
            spec.check(config)


def _check_database_url(reader: _Reader, url: str) -> None:
    """Fail early, in one line, on a URL SQLAlchemy cannot parse or whose driver is not installed."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect().import_dbapi()
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError):
        raise reader.fail("database.url", "sqlite:///instance/bot.db 或 postgresql+psycopg://用户@主机/库名"
                          "（只装了 SQLite 和 psycopg 驱动）") from None


# tomllib's messages, in the words an organizer editing the file reads (the rest are shown as they are).
_TOML_MESSAGES = (
    (re.compile(r"^Cannot overwrite a value$"), "同一项写了两次，请删掉其中一个"),
    (re.compile(r"^Cannot declare \(.*\) twice$"), "同一个配置节写了两次，请合并成一个"),
    (re.compile(r"^Expected '=' after a key in a key/value pair$"), "这一行应为“名称 = 值”，缺少等号"),
    (re.compile(r"^Invalid value$"), "值写得不对：文字要加英文双引号，真假写 true 或 false，日期时间如 2027-04-20T00:00:00"),
    (re.compile(r"^Invalid statement$"), "这一行既不是“名称 = 值”也不是 [配置节]"),
    (re.compile(r"^Expected newline or end of document after a statement$"), "一行只能写一项，值后面多了内容"),
    (re.compile(r"^Expected '\]' at the end of a table declaration$"), "配置节名称缺少右方括号 ]"),
    (re.compile(r"^Illegal character '\\n'$"), "引号没有配对（文字要用一对英文双引号括起来）"),
    (re.compile(r"^Unclosed array$"), "列表缺少右方括号 ]"),
)
_TOML_WHERE = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")


def toml_error_text(message: str) -> str:
    """Word a tomllib error in Chinese, with its line and column."""
    where = _TOML_WHERE.search(message)
    core = message[: where.start()] if where else message
    if where is None:
        place = ""
    elif where.group(1):
        place = f"第 {where.group(1)} 行第 {where.group(2)} 列："
    else:
        place = "文件末尾："
    for pattern, text in _TOML_MESSAGES:
        if pattern.match(core):
            return place + text
    return place + core


def per_config(build: Callable[["Config"], Any]) -> Callable[["Config"], Any]:
    """Cache what `build` derives from a config, once per config object (a process has one; tests build many)."""
    cache: dict[int, tuple[Config, Any]] = {}

    @functools.wraps(build)
    def derived(config: Config) -> Any:
        entry = cache.get(id(config))
        if entry is None or entry[0] is not config:
            if len(cache) > 16:
                cache.clear()
            entry = cache[id(config)] = (config, build(config))
        return entry[1]

    return derived


def config_path(explicit: str | None = None) -> str:
    """Pick the config file: --config, else BOT_CONFIG, else config.toml."""
    return explicit or os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG


def load_config(path: str | None = None) -> Config:
    """Read and validate the config file."""
    source = config_path(path)
    p = Path(source)
    if not p.is_file():
        raise ConfigError(f"{source}: 找不到配置文件；可复制 config.example.toml 为 config.toml，"
                          "或用 --config 指定文件")
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: TOML 语法错误：{toml_error_text(str(exc))}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: 文件不是 UTF-8 编码，请另存为 UTF-8") from None
    return parse_config(data, source)
