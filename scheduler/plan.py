"""The push plan: explicit [[pushes]] and [[push_series]] from the config, validated, in time order.

Articles follow WeChat's current rules (see ARTICLE_DOCS): permanent news material can no
longer be added (`material/add_news` answers 45103, lately 45106, since March 2022), and the
mpnews media_id a mass send or preview carries must be a draft's, from `draft/add` (or a draft
made in the official-account platform's 草稿箱). An article push either names such a draft
(`media_id`) or gives its body (`content`, with a cover) and the scheduler adds the draft
itself; once mass-sent, the draft leaves the drafts box. Publishing (`freepublish/submit`) is
not a mass send and reaches no follower's chat, so it is not used here.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config, ConfigError, declare_section

KINDS = ("video", "article", "text")
KIND_LABELS = {"video": "微讲堂视频", "article": "图文", "text": "文字"}
MAX_KEY_LENGTH = 64
ARTICLE_DOCS = ("https://developers.weixin.qq.com/doc/subscription/guide/product/message/Batch_Sends.html",
                "https://developers.weixin.qq.com/doc/service/api/draftbox/draftmanage/api_draft_add")
# draft/add: a title of at most 32 characters, a body under 20,000 characters.
DRAFT_TITLE_CHARS = 32
DRAFT_CONTENT_CHARS = 20_000
# "API 群发安全保护" (sendall, https://developers.weixin.qq.com/doc/service/api/notify/message/api_sendall):
# with it on, a send to all followers waits for an administrator's confirmation in WeChat, and
# fails if refused or not confirmed within 30 minutes. The docs put the wait after the send call
# and name no errcode for it, so the call answers as usual and only staff can see it through.
PROTECTION_NOTE = ("如公众号开启了 API 群发保护（设置-安全中心-风险操作保护），发给全部粉丝的群发需管理员"
                   "在 30 分钟内于微信上确认后才会发出，管理员拒绝或超时未确认则本次群发失败")
# Per-follower mass sends WeChat allows: subscription accounts per day, service accounts per month.
SUBSCRIPTION_DAILY_SENDS = 1
SERVICE_MONTHLY_SENDS = 4


@dataclass(frozen=True)
class PlannedPush:
    """One push as planned: when (aware, activity-local), what, and to whom."""

    key: str
    title: str
    kind: str
    at: dt.datetime
    media_id: str = ""
    file: str = ""
    content: str = ""
    description: str = ""
    url: str = ""
    audience: str = "all"  # "all", "tag:<id>", or "participants"
    series: str = ""
    cover: str = ""  # article: a local cover image for the draft the scheduler adds
    thumb_media_id: str = ""  # article: or the cover's permanent image material id

    @property
    def makes_draft(self) -> bool:
        """Say whether sending this article first adds a draft from its content."""
        return self.kind == "article" and not self.media_id and bool(self.content.strip())

    @property
    def at_utc(self) -> dt.datetime:
        """Return the planned time as naive UTC, the form the push log stores."""
        return self.at.astimezone(dt.timezone.utc).replace(tzinfo=None)

    @property
    def tag_id(self) -> int | None:
        return int(self.audience.removeprefix("tag:")) if self.audience.startswith("tag:") else None


@dataclass(frozen=True)
class SchedulerOptions:
    """The [scheduler] table: timing, retries and the lease."""

    grace_minutes: int = 60
    preview_minutes_before: int = 0
    embedded: bool = True
    lease_seconds: int = 60
    max_retries: int = 3
    retry_seconds: float = 5.0


def audience_label(audience: str) -> str:
    """Describe an audience for organizers."""
    if audience == "all":
        return "全部粉丝"
    if audience == "participants":
        return "答题参与者"
    return f"标签 {audience.removeprefix('tag:')}"


class _Fail:
    def __init__(self, source: str, where: str):
        self.source = source
        self.where = where

    def __call__(self, key: str, expected: str, got: Any = None) -> ConfigError:
        shown = "" if got is None else f"，当前为 {got!r}"
        return ConfigError(f"{self.source}: {self.where}.{key}: 应为{expected}{shown}")


def _local(value: Any, fail: _Fail, tz: ZoneInfo) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise fail("at", "本地日期时间，如 2027-04-21T20:00:00", value)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def _audience(value: Any, fail: _Fail) -> str:
    if value in ("all", "participants"):
        return value
    if isinstance(value, str) and value.startswith("tag:") and value.removeprefix("tag:").isdigit():
        return value
    raise fail("audience", "\"all\"（全部粉丝）、\"participants\"（答题参与者）或 \"tag:标签id\"，如 \"tag:100\"",
               value)


def _key(value: Any, fail: _Fail, name: str = "key") -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(name, "唯一的推送标识，如 \"video-1\"", value)
    if len(value.strip()) > MAX_KEY_LENGTH:
        raise fail(name, f"不超过 {MAX_KEY_LENGTH} 个字符的标识", value)
    return value.strip()


def _check_content(push: PlannedPush, fail: _Fail, content_key: str = "content") -> PlannedPush:
    if push.kind == "text" and not push.content.strip():
        raise fail(content_key, "文字推送的正文")
    if push.kind == "text" and len(push.content.encode("utf-8")) > 5000:
        raise fail(content_key, "不超过 5000 字节的正文", f"{len(push.content.encode('utf-8'))} 字节")
    if push.media_id and push.file:
        raise fail("file", "media_id 与 file 二选一", push.file)
    if push.cover and push.thumb_media_id:
        raise fail("cover", "cover（封面图片文件）与 thumb_media_id 二选一", push.cover)
    return push


def _parse_push(raw: Any, where: str, source: str, tz: ZoneInfo) -> PlannedPush:
    fail = _Fail(source, where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {where}: 应为推送表（[[pushes]]）")
    key = _key(raw.get("key"), fail)
    for name in ("title", "kind"):
        if not isinstance(raw.get(name), str) or not raw[name].strip():
            raise fail(name, {"title": "推送标题", "kind": "video、article 或 text"}[name], raw.get(name))
    if raw["kind"] not in KINDS:
        raise fail("kind", "video、article 或 text", raw["kind"])
    at = _local(raw.get("at"), fail, tz)
    texts = {}
    for name in ("media_id", "file", "content", "description", "url", "cover", "thumb_media_id"):
        value = raw.get(name, "")
        if not isinstance(value, str):
            raise fail(name, "字符串", value)
        texts[name] = value.strip() if name != "content" else value
    if texts["url"] and not texts["url"].startswith(("http://", "https://")):
        raise fail("url", "以 http:// 或 https:// 开头的网址", texts["url"])
    audience = _audience(raw.get("audience", "all"), fail)
    push = PlannedPush(key=key, title=raw["title"].strip(), kind=raw["kind"], at=at, audience=audience, **texts)
    return _check_content(push, fail)


def _series_list(raw: dict, name: str, count: int, fail: _Fail, required: bool = False) -> list[str]:
    value = raw.get(name)
    if value is None:
        if required:
            raise fail(name, f"{count} 项的字符串列表")
        return [""] * count
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail(name, "字符串列表，如 [\"第一期\", \"第二期\"]", value)
    if len(value) != count:
        raise fail(name, f"{count} 项（与 count 一致）", f"{len(value)} 项")
    return [v.strip() if name != "contents" else v for v in value]


def _parse_series(raw: Any, where: str, source: str, tz: ZoneInfo) -> list[PlannedPush]:
    fail = _Fail(source, where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {where}: 应为推送系列表（[[push_series]]）")
    prefix = _key(raw.get("key"), fail)
    kind = raw.get("kind", "video")
    if kind not in KINDS:
        raise fail("kind", "video、article 或 text", kind)
    first = _local(raw.get("at"), fail, tz)
    every = raw.get("every_days", 1)
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
        raise fail("every_days", "正整数（相隔天数），如 2", every)
    titles = raw.get("titles")
    if not isinstance(titles, list) or not titles or not all(isinstance(t, str) and t.strip() for t in titles):
        raise fail("titles", "每期标题的列表，如 [\"商标那些事\", \"专利入门\"]", titles)
    count = raw.get("count", len(titles))
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise fail("count", "正整数（期数）", count)
    titles = _series_list(raw, "titles", count, fail, required=True)
    media_ids = _series_list(raw, "media_ids", count, fail)
    files = _series_list(raw, "files", count, fail)
    descriptions = _series_list(raw, "descriptions", count, fail)
    urls = _series_list(raw, "urls", count, fail)
    covers = _series_list(raw, "covers", count, fail)
    thumbs = _series_list(raw, "thumb_media_ids", count, fail)
    contents = _series_list(raw, "contents", count, fail, required=kind == "text")
    audience = _audience(raw.get("audience", "all"), fail)
    pushes = []
    for i in range(count):
        key = f"{prefix}-{i + 1}"
        if len(key) > MAX_KEY_LENGTH:
            raise fail("key", f"较短的前缀（生成的 {key!r} 超过 {MAX_KEY_LENGTH} 个字符）", prefix)
        if urls[i] and not urls[i].startswith(("http://", "https://")):
            raise fail(f"urls[{i + 1}]", "以 http:// 或 https:// 开头的网址", urls[i])
        # Add whole days on the local calendar so a DST change keeps the local hour.
        at = dt.datetime.combine(first.date() + dt.timedelta(days=every * i), first.timetz())
        push = PlannedPush(key=key, title=titles[i], kind=kind, at=at, media_id=media_ids[i], file=files[i],
                           content=contents[i], description=descriptions[i], url=urls[i], audience=audience,
                           series=prefix, cover=covers[i], thumb_media_id=thumbs[i])
        pushes.append(_check_content(push, _Fail(source, f"{where}[{i + 1}]"), "contents"))
    return pushes


def build_plan(config: Config) -> list[PlannedPush]:
    """Return every planned push in time order; ConfigError names the entry that is wrong."""
    source = config.source
    tz = config.activity.tz
    plan: list[PlannedPush] = []
    for name, parse in (("pushes", _parse_push), ("push_series", _parse_series)):
        entries = config.raw.get(name, [])
        if not isinstance(entries, list):
            raise ConfigError(f"{source}: {name}: 应为表的列表（[[{name}]]）")
        for i, raw in enumerate(entries, 1):
            parsed = parse(raw, f"{name}[{i}]", source, tz)
            plan.extend(parsed if isinstance(parsed, list) else [parsed])
    seen: set[str] = set()
    for push in plan:
        if push.key in seen:
            raise ConfigError(f"{source}: pushes「{push.key}」.key: 应为唯一标识，该 key 重复"
                              "（[[push_series]] 生成的 key 为 前缀-序号）")
        seen.add(push.key)
    return sorted(plan, key=lambda p: (p.at, p.key))


def scheduler_options(config: Config) -> SchedulerOptions:
    """Validate and return the [scheduler] table."""
    table = config.section("scheduler")
    defaults = SchedulerOptions()
    values: dict[str, Any] = {}
    for name, expected, allow_zero in (("grace_minutes", "分钟数（非负整数），如 60", True),
                                       ("preview_minutes_before", "分钟数（0 表示不自动预览）", True),
                                       ("lease_seconds", "秒数（正整数），如 60", False),
                                       ("max_retries", "重试次数（非负整数），如 3", True)):
        value = table.get(name, getattr(defaults, name))
        if not isinstance(value, int) or isinstance(value, bool) or value < 0 or (value == 0 and not allow_zero):
            raise ConfigError(f"{config.source}: scheduler.{name}: 应为{expected}，当前为 {value!r}")
        values[name] = value
    if values["lease_seconds"] < 5:
        raise ConfigError(f"{config.source}: scheduler.lease_seconds: 应为至少 5 秒，当前为 {values['lease_seconds']!r}")
    retry = table.get("retry_seconds", defaults.retry_seconds)
    if not isinstance(retry, (int, float)) or isinstance(retry, bool) or retry < 0:
        raise ConfigError(f"{config.source}: scheduler.retry_seconds: 应为首次重试前等待的秒数，如 5，当前为 {retry!r}")
    embedded = table.get("embedded", defaults.embedded)
    if not isinstance(embedded, bool):
        raise ConfigError(f"{config.source}: scheduler.embedded: 应为 true 或 false，当前为 {embedded!r}")
    return SchedulerOptions(retry_seconds=float(retry), embedded=embedded, **values)


def resolve_file(config: Config, file: str) -> Path:
    """Return a push's video or cover file path; relative paths are relative to the config file."""
    path = Path(file)
    return path if path.is_absolute() else Path(config.source).resolve().parent / path


def _describe(pushes: list[PlannedPush]) -> str:
    return "、".join(f"{p.key}《{p.title}》" for p in pushes)


def plan_warnings(config: Config, plan: list[PlannedPush]) -> list[str]:
    """Return what an organizer should fix: quota overruns, missing media, missing files."""
    warnings = []
    if config.wechat.account_type == "subscription":
        by_day: dict[dt.date, list[PlannedPush]] = defaultdict(list)
        for push in plan:
            if push.audience == "participants":
                warnings.append(f"{push.key}《{push.title}》发给答题参与者需按 OpenID 列表群发，订阅号没有该接口；"
                                "请改为 audience = \"all\" 或标签")
                continue
            by_day[push.at.date()].append(push)
        for day, pushes in sorted(by_day.items()):
            if len(pushes) > SUBSCRIPTION_DAILY_SENDS:
                warnings.append(f"{day.month}月{day.day}日 有 {len(pushes)} 次群发（{_describe(pushes)}），"
                                f"订阅号每天只能群发 {SUBSCRIPTION_DAILY_SENDS} 次，多出的会因额度不足失败")
    else:
        by_month: dict[tuple[int, int], list[PlannedPush]] = defaultdict(list)
        for push in plan:
            by_month[(push.at.year, push.at.month)].append(push)
        for (year, month), pushes in sorted(by_month.items()):
            if len(pushes) > SERVICE_MONTHLY_SENDS:
                warnings.append(f"{year}年{month}月 有 {len(pushes)} 次群发（{_describe(pushes)}），"
                                f"服务号每位粉丝每月最多收到 {SERVICE_MONTHLY_SENDS} 条群发，超出的粉丝收不到")
    for push in plan:
        if push.kind == "video" and not push.media_id and not push.file:
            warnings.append(f"{push.key}《{push.title}》没有素材：请填写 media_id（素材 id）或 file（本地视频文件）")
        if push.kind == "article":
            warnings.extend(f"{push.key}《{push.title}》{w}" for w in _article_warnings(config, push))
        if push.file and not resolve_file(config, push.file).is_file():
            warnings.append(f"{push.key}《{push.title}》的视频文件不存在：{resolve_file(config, push.file)}")
    return warnings


def _article_warnings(config: Config, push: PlannedPush) -> list[str]:
    """Return what keeps an article push from being sent as WeChat now requires (a draft's media_id)."""
    found = []
    if not push.media_id and not push.content.strip():
        found.append("没有素材：请填写 media_id（草稿箱中草稿的 media_id；永久图文素材已不能新增）"
                     "或 content（正文 HTML，发送时由调度器新建草稿）")
    if push.file:
        found.append("是图文推送，file 只用于视频；封面图片请填 cover")
    if push.media_id and push.content.strip():
        found.append("同时填写了 media_id 和 content：将直接群发 media_id 对应的草稿，content 不会使用")
    if not push.makes_draft:
        return found
    if not push.cover and not push.thumb_media_id:
        found.append("新建草稿需要封面：请填写 cover（本地图片文件）或 thumb_media_id（永久图片素材 id）")
    if push.cover and not resolve_file(config, push.cover).is_file():
        found.append(f"的封面图片不存在：{resolve_file(config, push.cover)}")
    if len(push.title) > DRAFT_TITLE_CHARS:
        found.append(f"的标题有 {len(push.title)} 个字，草稿标题最多 {DRAFT_TITLE_CHARS} 个字，微信会拒绝新建草稿")
    if len(push.content) > DRAFT_CONTENT_CHARS:
        found.append(f"的正文有 {len(push.content)} 个字符，草稿正文须少于 {DRAFT_CONTENT_CHARS} 个字符")
    return found


def protected_pushes(plan: list[PlannedPush]) -> list[PlannedPush]:
    """Return the pushes that go to all followers, which API mass-send protection holds for confirmation."""
    return [push for push in plan if push.audience == "all"]


def push_warnings(config: Config, plan: list[PlannedPush], push: PlannedPush, rows: dict, *,
                  now: dt.datetime) -> list[str]:
    """Warn staff about sending one push now: the plan's warnings that concern it, and the day's quota.

    The one source of these warnings for the console and `pushes send`. `rows` maps push keys to
    their push-log rows; `now` is naive UTC.
    """
    day = f"{push.at.month}月{push.at.day}日"
    month = f"{push.at.year}年{push.at.month}月"
    found = [w for w in plan_warnings(config, plan) if push.key in w or day in w or month in w]
    if protected_pushes([push]):
        found.append(PROTECTION_NOTE)
    if config.wechat.account_type == "subscription":
        tz = config.activity.tz

        def local_day(value: dt.datetime) -> dt.date:
            return value.replace(tzinfo=dt.timezone.utc).astimezone(tz).date()

        today = local_day(now)
        sent_today = [row for row in rows.values() if row.key != push.key and row.status in ("sent", "delivered")
                      and row.sent_at and local_day(row.sent_at) == today]
        if len(sent_today) >= SUBSCRIPTION_DAILY_SENDS:
            titles = "、".join(f"《{row.title}》" for row in sent_today)
            found.append(f"今天已群发过 {titles}，订阅号每天只能群发 {SUBSCRIPTION_DAILY_SENDS} 次，"
                         "现在发送很可能因额度不足失败")
    return found


PUSH_KEYS = {"key", "title", "kind", "at", "media_id", "file", "content", "description", "url", "audience", "cover",
             "thumb_media_id"}
SERIES_KEYS = {"key", "kind", "at", "every_days", "titles", "count", "media_ids", "files", "descriptions", "urls",
               "contents", "audience", "covers", "thumb_media_ids"}
SCHEDULER_KEYS = {"grace_minutes", "preview_minutes_before", "embedded", "lease_seconds", "max_retries",
                  "retry_seconds"}
declare_section("pushes", keys=PUSH_KEYS, array=True, check=build_plan)
declare_section("push_series", keys=SERIES_KEYS, array=True)  # checked with [[pushes]] by build_plan
declare_section("scheduler", keys=SCHEDULER_KEYS, check=scheduler_options)
