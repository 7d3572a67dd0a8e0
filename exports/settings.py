"""The `[export]` config table: the draw's defaults, validated with messages naming file and key."""
from __future__ import annotations

from dataclasses import dataclass

from bot.config import Config, ConfigError, declare_section

from exports.winners import DEFAULT_TIER, RULES, TOP, RuleError, Tier, check_tiers


@dataclass(frozen=True)
class ExportSettings:
    """Defaults for `export winners`; command-line options override them."""

    rule: str = TOP
    tiers: tuple[Tier, ...] = (Tier(DEFAULT_TIER, 10),)
    exclude_openids: tuple[str, ...] = ()
    require_contact: bool = True


def export_settings(config: Config) -> ExportSettings:
    """Read and check the `[export]` table of the config."""
    table = config.section("export")
    source = config.source

    def fail(key: str, expected: str, got: object) -> ConfigError:
        return ConfigError(f"{source}: export.{key}: 应为{expected}，当前为 {got!r}")

    rule = table.get("rule", TOP)
    if rule not in RULES:
        raise fail("rule", "\"top\"（按成绩排名）或 \"lottery\"（合格者中抽奖）", rule)
    require_contact = table.get("require_contact", True)
    if not isinstance(require_contact, bool):
        raise fail("require_contact", "true 或 false", require_contact)
    exclude = table.get("exclude_openids", [])
    if not isinstance(exclude, list) or not all(isinstance(v, str) and v.strip() for v in exclude):
        raise fail("exclude_openids", "openid 字符串列表，如 [\"oAbc...\"]", exclude)
    tiers = ExportSettings.tiers
    if "tiers" in table and "count" in table:
        raise ConfigError(f"{source}: export.count: 与 export.tiers 只能写一个")
    if "count" in table:
        count = table["count"]
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            raise fail("count", "正整数", count)
        tiers = (Tier(DEFAULT_TIER, count),)
    if "tiers" in table:
        tiers = _tiers(table["tiers"], fail, source)
    return ExportSettings(rule=rule, tiers=tiers, exclude_openids=tuple(v.strip() for v in exclude),
                          require_contact=require_contact)


def _tiers(raw: object, fail, source: str) -> tuple[Tier, ...]:
    expected = "奖项列表，如 [{ name = \"一等奖\", count = 5 }, { name = \"二等奖\", count = 10 }]"
    if not isinstance(raw, list):
        raise fail("tiers", expected, raw)
    tiers = []
    for item in raw:
        if (not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip()
                or not isinstance(item.get("count"), int) or isinstance(item.get("count"), bool)
                or item["count"] <= 0):
            raise fail("tiers", expected, item)
        tiers.append(Tier(item["name"].strip(), item["count"]))
    try:
        return check_tiers(tiers, f"{source}: export.tiers")
    except RuleError as exc:
        raise ConfigError(str(exc)) from None


declare_section("export", keys={"rule", "tiers", "count", "exclude_openids", "require_contact"}, check=export_settings)
