"""Outreach texts built from the config: welcome, help, the week's schedule, custom replies."""
from __future__ import annotations

import datetime as dt
import re

from questions.fields import fold
from scheduler.plan import PlannedPush

from bot.config import Config, per_config
from bot.dates import day, day_with_weekday

ACTION_LABELS = (
    ("quiz", "参加线上有奖竞答"),
    ("lectures", "观看知识产权微讲堂"),
    ("schedule", "查看本周活动安排"),
    ("rank", "查看我的成绩和排名"),
    ("leaderboard", "查看排行榜前十名"),
    ("help", "查看全部关键词"),
)


def normalize(text: str) -> str:
    """Fold full-width forms and spaces so keywords match what people type."""
    return "".join(fold(text or "").split()).lower()


# Per config: normalized keyword -> action, and normalized menu label -> button key (the first wins,
# as in the config's order). Every message is matched against both, so they are built once.
@per_config
def _lookups(config: Config) -> tuple[dict[str, str], dict[str, str]]:
    actions: dict[str, str] = {}
    for action, words in config.keywords.items():
        for word in words:
            actions.setdefault(normalize(word), action)
    labels: dict[str, str] = {}
    for top in config.menu:
        for button in (top, *top.sub):
            if button.key:
                labels.setdefault(normalize(button.name), button.key)
    return actions, labels


def match_action(config: Config, text: str) -> str | None:
    """Return the action a message names by keyword, if any."""
    return _lookups(config)[0].get(normalize(text).rstrip("!！。."))


def match_reply(config: Config, text: str) -> str | None:
    """Return the configured reply a message names by keyword, if any."""
    key = normalize(text)
    for reply in config.replies:
        if any(key == normalize(w) for w in reply.words):
            return reply.text
    return None


def menu_key(config: Config, text: str) -> str | None:
    """Return the key of the menu button whose label a message repeats, if any."""
    return _lookups(config)[1].get(normalize(text))


def reply_by_id(config: Config, reply_id: str) -> str | None:
    """Return a configured reply by id (menu buttons refer to replies this way)."""
    for reply in config.replies:
        if reply.id == reply_id:
            return reply.text
    return None



def date_range(config: Config) -> str:
    a = config.activity
    return f"{day(a.start)}—{day(a.end)}"


def keyword_lines(config: Config) -> list[str]:
    lines = [f"· {config.keywords[action][0]} —— {label}" for action, label in ACTION_LABELS]
    for reply in config.replies:
        if reply.words:
            label = reply.label or re.split(r"[：:，,。（(\n]", reply.text, maxsplit=1)[0][:16]
            lines.insert(-1, f"· {reply.words[0]} —— {label}")
    return lines


def welcome_text(config: Config, now_local: dt.datetime) -> str:
    """Greet a new follower with the week's theme, dates and keywords."""
    a = config.activity
    when = "即将举行" if now_local < a.start else ("已圆满结束" if now_local > a.end else "正在进行")
    lines = [f"欢迎关注！{a.name}（{date_range(config)}）{when}。"]
    if a.theme:
        lines.append(f"本届主题：{a.theme}")
    lines.append("")
    lines.append("回复关键词参与：")
    lines.extend(keyword_lines(config))
    return "\n".join(lines)


@per_config
def all_keywords(config: Config) -> frozenset[str]:
    """Every word the bot answers (actions and configured replies), normalised."""
    words = [w for action_words in config.keywords.values() for w in action_words]
    words += [w for reply in config.replies for w in reply.words]
    return frozenset(normalize(w) for w in words)


def help_text(config: Config) -> str:
    """List what a follower can send."""
    return "\n".join([f"{config.activity.name}（{date_range(config)}）", "回复以下关键词：",
                      *keyword_lines(config)])


def unknown_text(config: Config) -> str:
    """Answer a message we do not understand, briefly, pointing at the keywords."""
    quiz = config.keywords["quiz"][0]
    helpword = config.keywords["help"][0]
    return f"没有听懂这条消息。回复“{quiz}”参加有奖竞答，回复“{helpword}”查看全部关键词。"


def schedule_text(config: Config, plan: list[PlannedPush]) -> str:
    """Build the week's schedule from the activity dates and the push plan."""
    a = config.activity
    quiz = config.keywords["quiz"][0]
    lines = [f"{a.name}活动安排（{date_range(config)}）", ""]
    closes = config.quiz.closes_at
    lines.append(f"· {day(a.start)} {a.start:%H:%M} — {day(closes)} {closes:%H:%M} 线上有奖竞答"
                 f"（回复“{quiz}”参加）")
    for push in plan:
        # A video is a microlecture; an article or text is named by its own title (专家讲座 and so on).
        title = push.title
        if push.kind == "video" and not title.startswith("微讲堂"):
            title = f"微讲堂：{title}"
        lines.append(f"· {day_with_weekday(push.at)} {push.at:%H:%M} {title}")
    ip_day = dt.date(a.start.year, 4, 26)
    if a.start.date() <= ip_day <= a.end.date():
        lines.append("· 4月26日 世界知识产权日")
    lines.append("")
    lines.append(f"知识产权维权援助热线：{a.hotline}")
    return "\n".join(lines)
