"""Fair play: the rules that flag attempts looking scripted or players sharing one identity (pure).

Staff review every flag (console 公平性审核, workbook sheet 异常核查); a flagged player is left out of
draws until staff clear them. Thresholds come from the [fairplay] config section:

- answers faster than a person can read: an attempt whose median answer time is under
  `min_median_seconds`, or with any answer under `min_answer_seconds` (timed by the server's clock:
  from when the question was sent to when the answer arrived);
- too many attempts by one person: more than `max_attempts_per_person` ended attempts by one openid,
  or by all the openids registered with one phone;
- one identity on several accounts: the same phone (or name + phone) registered on more than
  `max_accounts_per_contact` openids.
"""
from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass

from bot.config import Config, ConfigError, declare_section, per_config
from bot.masking import mask_phone, short_openid
from bot.quiz.details import mask_id

FAST = "答题过快"
MANY_ATTEMPTS = "答题次数过多"
SHARED_CONTACT = "多个账号登记同一信息"


@dataclass(frozen=True)
class FairPlaySettings:
    min_median_seconds: float = 2.0
    min_answer_seconds: float = 0.5
    max_attempts_per_person: int = 0  # 0: quiz.max_attempts
    max_accounts_per_contact: int = 1


@dataclass(frozen=True)
class AttemptTiming:
    """An ended attempt's answer times in seconds, in the order answered."""

    openid: str
    attempt_id: int
    number: int  # the player's 1st, 2nd, ... attempt
    seconds: tuple[float, ...]


@dataclass(frozen=True)
class Flag:
    openid: str
    reason: str  # FAST, MANY_ATTEMPTS or SHARED_CONTACT
    evidence: str  # what staff read to judge it


def answer_seconds(started_at: dt.datetime, answered: list[dt.datetime]) -> tuple[float, ...]:
    """Each answer's time: from the previous answer (or the start, when question 1 was sent) to this one."""
    times, previous = [], started_at
    for at in sorted(answered):
        times.append(max((at - previous).total_seconds(), 0.0))
        previous = at
    return tuple(times)


def _fast(timing: AttemptTiming, settings: FairPlaySettings) -> Flag | None:
    if not timing.seconds:
        return None
    median, fastest = statistics.median(timing.seconds), min(timing.seconds)
    if median >= settings.min_median_seconds and fastest >= settings.min_answer_seconds:
        return None
    return Flag(timing.openid, FAST,
                f"第{timing.number}次答题 {len(timing.seconds)} 题：中位用时 {median:.1f} 秒，最快 {fastest:.1f} 秒"
                f"（阈值：中位 {settings.min_median_seconds:g} 秒、单题 {settings.min_answer_seconds:g} 秒）")


def find_flags(*, timings: list[AttemptTiming], attempts: dict[str, int], contacts: dict[str, tuple[str, str]],
               settings: FairPlaySettings, max_attempts: int,
               id_numbers: dict[str, str] | None = None) -> list[Flag]:
    """Every flag, per player and reason (the first fast attempt stands for the rest), in a stable order.

    `attempts`: ended attempts per openid; `contacts`: openid -> (name, phone) for registered players;
    `id_numbers`: openid -> registered ID number.
    """
    flags: dict[tuple[str, str], Flag] = {}
    for timing in sorted(timings, key=lambda t: (t.openid, t.number)):
        flag = _fast(timing, settings)
        if flag is not None:
            flags.setdefault((flag.openid, FAST), flag)
    limit = settings.max_attempts_per_person or max_attempts
    for openid, count in attempts.items():
        if count > limit:
            flags[(openid, MANY_ATTEMPTS)] = Flag(openid, MANY_ATTEMPTS, f"本账号答题 {count} 次（上限 {limit} 次）")
    # One person behind several accounts: the same phone, or the same ID number (when registration asks for it).
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for openid, (_name, phone) in contacts.items():
        if phone:
            groups[(f"手机号 {mask_phone(phone)}", phone)].append(openid)
    for openid, id_number in (id_numbers or {}).items():
        groups[(f"身份证号 {mask_id(id_number)}", id_number)].append(openid)
    for (shown, _value), openids in sorted(groups.items()):
        openids.sort()
        if len(openids) > settings.max_accounts_per_contact:
            listed = "、".join(short_openid(o) for o in openids)
            for openid in openids:
                flags.setdefault((openid, SHARED_CONTACT), Flag(
                    openid, SHARED_CONTACT, f"{shown} 登记在 {len(openids)} 个账号：{listed}"))
        total = sum(attempts.get(o, 0) for o in openids)
        if len(openids) > 1 and total > limit:
            for openid in openids:
                flags.setdefault((openid, MANY_ATTEMPTS), Flag(
                    openid, MANY_ATTEMPTS, f"{shown} 的 {len(openids)} 个账号共答题 {total} 次（上限 {limit} 次）"))
    return [flags[key] for key in sorted(flags)]


@per_config
def fairplay_settings(config: Config) -> FairPlaySettings:
    """Read [fairplay]; ConfigError naming the key."""
    table = config.section("fairplay")
    values = {}
    for key, kind, default in (("min_median_seconds", (int, float), 2.0), ("min_answer_seconds", (int, float), 0.5),
                               ("max_attempts_per_person", int, 0), ("max_accounts_per_contact", int, 1)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, kind) or value < 0 or (
                key == "max_accounts_per_contact" and value < 1):
            expected = "秒数（0 表示不查）" if kind != int else ("正整数" if key == "max_accounts_per_contact"
                                                               else "次数（0 表示取 quiz.max_attempts）")
            raise ConfigError(f"{config.source}: fairplay.{key}: 应为{expected}，当前为 {value!r}")
        values[key] = value
    return FairPlaySettings(**values)


declare_section("fairplay", keys={"min_median_seconds", "min_answer_seconds", "max_attempts_per_person",
                                  "max_accounts_per_contact"}, check=fairplay_settings)
