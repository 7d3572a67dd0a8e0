"""Winner selection rules: pure functions over plain rows, so anyone can re-run a draw.

The lottery is reproducible from the exported data alone:

1. eligible players: best score >= pass score, not excluded, contact left (when required),
   one per phone (the best by the standing order), one per openid;
2. canonical order: sorted by openid;
3. digest: SHA-256 (hex) of the UTF-8 lines "openid<TAB>score<TAB>duration_seconds\\n" in that order;
4. draw: ``random.Random(f"{seed}:{digest}").sample(eligible, k)`` with k = all places
   (or every eligible player when there are fewer); the first drawn fill the first tier.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from dataclasses import dataclass

from bot.quiz.rules import StandingKey

TOP = "top"
LOTTERY = "lottery"
RULES = (TOP, LOTTERY)
DEFAULT_TIER = "获奖"


@dataclass(frozen=True)
class Player:
    """A player's best ended attempt and contact details."""

    openid: str
    attempt_id: int
    score: int
    max_score: int
    duration_seconds: int
    finished_at: dt.datetime
    name: str = ""
    phone: str = ""

    @property
    def has_contact(self) -> bool:
        return bool(self.name and self.phone)


@dataclass(frozen=True)
class Tier:
    """A prize and how many places it has."""

    name: str
    count: int


@dataclass(frozen=True)
class Winner:
    """One prize won: the tier, the overall place (1-based) and the player."""

    tier: str
    rank: int
    player: Player


@dataclass(frozen=True)
class Draw:
    """The outcome of a selection and everything needed to check it."""

    rule: str
    seed: str
    tiers: tuple[Tier, ...]
    pass_score: int
    require_contact: bool
    considered: int
    eligible: tuple[Player, ...]
    digest: str
    winners: tuple[Winner, ...]
    excluded: tuple[str, ...]
    skipped_no_contact: int
    skipped_duplicate_phone: int

    @property
    def places(self) -> int:
        return sum(t.count for t in self.tiers)


class RuleError(ValueError):
    """A selection option a person can fix; str() is one Chinese line."""


def standing_key(player: Player) -> tuple:
    """Sort key of the standing order (bot.quiz.rules.STANDING, the one definition)."""
    return StandingKey(score=player.score, duration_seconds=player.duration_seconds, finished_at=player.finished_at,
                       id=player.attempt_id).sort_key()


# More places than any prize list needs; a mistyped huge number is refused, never drawn.
MAX_PLACES = 100_000


def parse_tiers(text: str, where: str = "--tiers") -> tuple[Tier, ...]:
    """Parse "一等奖:5,二等奖:10" into tiers (`where` names the option or field in messages)."""
    tiers = []
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, count = part.replace("：", ":").rpartition(":")
        if not sep or not name.strip() or not count.strip().isdigit():
            raise RuleError(f"{where}: 「{part}」应为 奖项:人数，如 一等奖:5,二等奖:10")
        if int(count) <= 0:
            raise RuleError(f"{where}: 「{part}」的人数应至少为 1")
        tiers.append(Tier(name=name.strip(), count=int(count)))
    return check_tiers(tiers, where)


def check_tiers(tiers: list[Tier], where: str) -> tuple[Tier, ...]:
    """Reject an empty tier list, repeated tier names and more places than MAX_PLACES."""
    if not tiers:
        raise RuleError(f"{where}: 应至少有一个奖项，如 一等奖:5")
    places = sum(t.count for t in tiers)
    if places > MAX_PLACES:
        raise RuleError(f"{where}: 获奖人数合计 {places} 过大，最多 {MAX_PLACES} 人；请检查是否多输了数字")
    names = [t.name for t in tiers]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise RuleError(f"{where}: 奖项名称重复：{'、'.join(repeated)}")
    return tuple(tiers)


def normalise_phone(phone: str) -> str:
    """Keep the digits of a phone number, so "138 0013 8000" and "13800138000" are one person."""
    return "".join(ch for ch in phone or "" if ch.isdigit())


def eligible_digest(players: list[Player] | tuple[Player, ...]) -> str:
    """Return the SHA-256 hex digest of the canonical eligible list."""
    h = hashlib.sha256()
    for p in sorted(players, key=lambda p: p.openid):
        h.update(f"{p.openid}\t{p.score}\t{p.duration_seconds}\n".encode())
    return h.hexdigest()


def new_seed() -> str:
    """Return a fresh random seed for a lottery run without --seed."""
    return secrets.token_hex(4)


def select_winners(players: list[Player], *, rule: str, tiers: tuple[Tier, ...], seed: str = "",
                   pass_score: int, exclude: frozenset[str] | set[str] = frozenset(),
                   require_contact: bool = True) -> Draw:
    """Select winners by `top` (standing order) or `lottery` (seeded draw); one prize per person."""
    if rule not in RULES:
        raise RuleError(f"--rule: 应为 top（按成绩排名）或 lottery（合格者中抽奖），当前为 {rule!r}")
    if not tiers or any(t.count <= 0 for t in tiers):
        raise RuleError("--count: 获奖人数应为正整数")
    excluded = tuple(sorted({p.openid for p in players if p.openid in exclude}))
    qualified = [p for p in players if p.openid not in exclude and p.score >= pass_score]
    considered = len(qualified)
    with_contact = [p for p in qualified if p.has_contact or not require_contact]
    skipped_no_contact = considered - len(with_contact)
    by_person: dict[str, Player] = {}
    for p in sorted(with_contact, key=standing_key):
        phone = normalise_phone(p.phone)
        by_person.setdefault(f"phone:{phone}" if phone else f"openid:{p.openid}", p)
    skipped_duplicate_phone = len(with_contact) - len(by_person)
    eligible = sorted(by_person.values(), key=lambda p: p.openid)
    digest = eligible_digest(eligible)
    places = sum(t.count for t in tiers)
    if rule == TOP:
        chosen = sorted(eligible, key=standing_key)[:places]
    else:
        chosen = random.Random(f"{seed}:{digest}").sample(eligible, min(places, len(eligible)))
    return Draw(rule=rule, seed=seed if rule == LOTTERY else "", tiers=tiers, pass_score=pass_score,
                require_contact=require_contact, considered=considered, eligible=tuple(eligible), digest=digest,
                winners=tuple(_assign(chosen, tiers)), excluded=excluded, skipped_no_contact=skipped_no_contact,
                skipped_duplicate_phone=skipped_duplicate_phone)


def _assign(chosen: list[Player], tiers: tuple[Tier, ...]) -> list[Winner]:
    names = (t.name for t in tiers for _ in range(t.count))  # lazily: as many as there are winners
    return [Winner(tier=name, rank=i, player=p) for i, (name, p) in enumerate(zip(names, chosen), 1)]


def not_final_warning(closes_at: dt.datetime, now_utc: dt.datetime) -> str | None:
    """Warn that a draw made before answering closes is not final (the CLI and the console say the same)."""
    if now_utc.replace(tzinfo=dt.timezone.utc) >= closes_at:
        return None
    return f"竞答到 {closes_at:%Y-%m-%d %H:%M} 才截止，现在抽出的名单不是最终结果；截止后请重新导出。"
