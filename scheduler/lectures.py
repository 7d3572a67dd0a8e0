"""The reply to 微讲堂: the episodes released so far, with links, and when the next one is due."""
from __future__ import annotations

import datetime as dt
from sqlalchemy.orm import Session

from bot.config import Config
from bot.dates import day, day_with_weekday

from scheduler.plan import PlannedPush, build_plan
from scheduler.pushlog import log_rows

MAX_REPLY_BYTES = 2000


def _released(push: PlannedPush, status: str, now: dt.datetime) -> bool:
    if status in ("sent", "delivered"):
        return True
    return status not in ("failed", "missed") and push.at_utc <= now


def _episode(number: int, push: PlannedPush) -> str:
    title = f"《{push.title}》"
    if push.url:
        href = push.url.replace('"', "%22")
        title = f'<a href="{href}">{title}</a>'
    return f"第{number}期 {day(push.at)} {title}"


def render_lectures(*, name: str, released: list[tuple[int, PlannedPush]], upcoming: PlannedPush | None,
                    total: int) -> str:
    """Render the 微讲堂 reply, dropping the oldest episodes if it would exceed the reply limit."""
    if total == 0:
        return f"{name}暂无微讲堂安排，敬请关注本公众号的其他活动。"
    head = f"{name} · 知识产权微讲堂（共{total}期）"
    if upcoming is None:
        tail = f"全部 {total} 期已发布完毕，感谢观看！"
    else:
        when = f"{day_with_weekday(upcoming.at)}{upcoming.at:%H:%M}《{upcoming.title}》"
        tail = f"下一期：{when}" if released else f"第一期将于 {when}发布，敬请关注！"
    shown = list(released)
    while True:
        lines = [head, ""]
        if released:
            lines.append("已发布：")
            if len(shown) < len(released):
                lines.append(f"（前 {len(released) - len(shown)} 期略）")
            lines.extend(_episode(number, push) for number, push in shown)
            lines.append("")
        lines.append(tail)
        text = "\n".join(lines)
        if len(text.encode("utf-8")) <= MAX_REPLY_BYTES or not shown:
            return text
        shown.pop(0)


def lectures_text(*, session: Session, config: Config, now: dt.datetime) -> str:
    """Build the reply to a follower who sends 微讲堂 (now is naive UTC)."""
    videos = [p for p in build_plan(config) if p.kind == "video"]
    rows = log_rows(session)
    released, upcoming = [], None
    for number, push in enumerate(videos, 1):
        row = rows.get(push.key)
        status = row.status if row is not None else "planned"
        if _released(push, status, now):
            released.append((number, push))
        elif upcoming is None and status not in ("failed", "missed"):
            upcoming = push
    return render_lectures(name=config.activity.name, released=released, upcoming=upcoming, total=len(videos))
