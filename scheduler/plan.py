"""The push plan: explicit [[pushes]] from the config, validated, in time order."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Config, ConfigError

KINDS = ("video", "article", "text")
KIND_LABELS = {"video": "微讲堂视频", "article": "图文", "text": "文字"}


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


def _parse_push(raw: Any, where: str, source: str, tz: ZoneInfo) -> PlannedPush:
    def fail(key: str, expected: str, got: Any = None) -> ConfigError:
        shown = "" if got is None else f"，当前为 {got!r}"
        return ConfigError(f"{source}: {where}.{key}: 应为{expected}{shown}")

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {where}: 应为推送表（[[pushes]]）")
    for key in ("key", "title", "kind"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise fail(key, {"key": "唯一的推送标识，如 \"video-1\"", "title": "推送标题",
                             "kind": "video、article 或 text"}[key], raw.get(key))
    if raw["kind"] not in KINDS:
        raise fail("kind", "video、article 或 text", raw["kind"])
    at = raw.get("at")
    if not isinstance(at, dt.datetime):
        raise fail("at", "本地日期时间，如 2027-04-21T20:00:00", at)
    at = at.replace(tzinfo=tz) if at.tzinfo is None else at.astimezone(tz)
    texts = {}
    for key in ("media_id", "file", "content", "description", "url", "audience"):
        value = raw.get(key, "" if key != "audience" else "all")
        if not isinstance(value, str):
            raise fail(key, "字符串", value)
        texts[key] = value
    audience = texts.pop("audience")
    if audience not in ("all", "participants") and not audience.startswith("tag:"):
        raise fail("audience", "\"all\"（全部粉丝）、\"participants\"（答题参与者）或 \"tag:标签id\"", audience)
    if raw["kind"] == "text" and not texts["content"]:
        raise fail("content", "文字推送的正文")
    return PlannedPush(key=raw["key"].strip(), title=raw["title"].strip(), kind=raw["kind"], at=at,
                       audience=audience, **texts)


def build_plan(config: Config) -> list[PlannedPush]:
    """Return every planned push in time order; ConfigError names the entry that is wrong."""
    raw_pushes = config.raw.get("pushes", [])
    if not isinstance(raw_pushes, list):
        raise ConfigError(f"{config.source}: pushes: 应为推送列表（[[pushes]]）")
    tz = config.activity.tz
    plan = [_parse_push(raw, f"pushes[{i}]", config.source, tz) for i, raw in enumerate(raw_pushes, 1)]
    seen: set[str] = set()
    for push in plan:
        if push.key in seen:
            raise ConfigError(f"{config.source}: pushes「{push.key}」.key: 应为唯一标识，该 key 重复")
        seen.add(push.key)
    return sorted(plan, key=lambda p: p.at)
