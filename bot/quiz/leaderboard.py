"""The public leaderboard (排行榜): the top players by the standing order, names masked, test accounts left out.

One query, written once here and run by the chat (the engine's driver connection) and by the console
(a session): it walks ix_attempts_leaderboard, the index in the standing order, and stops after
LEADERBOARD_SIZE real players, however many play.
"""
from __future__ import annotations

from dataclasses import dataclass

from questions.render import format_duration

from bot.masking import mask_name
from bot.quiz.rules import SIMULATOR_PREFIX, STANDING, best_line

LEADERBOARD_SIZE = 10


def leaderboard_sql(testers: int) -> str:
    """The query, with :yes, :sim_prefix, :size and :tester_0 ... :tester_{n-1} parameters."""
    order = ", ".join(f"a.{name} {direction.upper()}" for name, direction in STANDING)
    listed = "".join(f", :tester_{i}" for i in range(testers))
    not_listed = f" AND a.openid NOT IN ({listed[2:]})" if testers else ""
    return (f"SELECT a.openid, a.score, a.duration_seconds, f.name, r.unit FROM attempts a "
            f"LEFT JOIN followers f ON f.openid = a.openid LEFT JOIN registrations r ON r.openid = a.openid "
            f"WHERE a.best = :yes AND substr(a.openid, 1, {len(SIMULATOR_PREFIX)}) <> :sim_prefix{not_listed} "
            f"ORDER BY {order} LIMIT :size")


def leaderboard_params(testers: tuple[str, ...], size: int = LEADERBOARD_SIZE) -> dict:
    return {"yes": True, "sim_prefix": SIMULATOR_PREFIX, "size": size,
            **{f"tester_{i}": t for i, t in enumerate(testers)}}


@dataclass(frozen=True)
class Entry:
    place: int
    shown_name: str  # masked
    score: int
    duration_seconds: int


def entries(rows, shows: str = "name") -> list[Entry]:
    """The query's rows as the list shows them: masked names (微信用户 for a player who left none), or the
    players' units when [registration] leaderboard_shows = "unit" (未登记单位 for none)."""
    def shown(name, unit) -> str:
        if shows == "unit":
            return unit or "未登记单位"
        return mask_name(name) or "微信用户"

    return [Entry(place=i, shown_name=shown(name, unit), score=int(score), duration_seconds=int(duration or 0))
            for i, (_openid, score, duration, name, unit) in enumerate(rows, 1)]


def leaderboard_text(top: list[Entry], *, players: int, own: tuple[int, int, int] | None, quiz_word: str) -> str:
    """The chat reply: the top list, how many play, and the follower's own standing (score, duration, rank)."""
    if not top:
        return f"还没有人完成答题。回复“{quiz_word}”参加有奖竞答，争当第一名！"
    lines = [f"🏆 有奖竞答排行榜（前{len(top)}名，共{players}人参与）"]
    lines += [f"{e.place}. {e.shown_name} {e.score}分 用时{format_duration(e.duration_seconds)}" for e in top]
    if own is None:
        lines.append(f"\n你还没有完成过答题。回复“{quiz_word}”参加。")
    else:
        lines.append("\n" + best_line(own[0], own[1], own[2], players))
    return "\n".join(lines)
