"""What a winner is told: the [notify] config section's message and how to claim the prize (pure)."""
from __future__ import annotations

from bot.config import Config, ConfigError, declare_section, per_config

DEFAULT_NOTICE = "恭喜你在{activity}有奖竞答中获得「{prize}」！{claim}"
DEFAULT_CLAIM = "工作人员将按你登记的手机号联系你领奖。"


@per_config
def notice_settings(config: Config) -> tuple[str, str]:
    """[notify]: the message template ({activity}, {prize}, {claim}) and how to claim; ConfigError naming the key."""
    table = config.section("notify")
    text = table.get("text", DEFAULT_NOTICE)
    claim = table.get("claim", DEFAULT_CLAIM)
    for key, value in (("text", text), ("claim", claim)):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{config.source}: notify.{key}: 应为非空的文字")
    try:
        text.format(activity="", prize="", claim="")
    except (KeyError, IndexError, ValueError):
        raise ConfigError(f"{config.source}: notify.text: 只能使用 {{activity}}、{{prize}}、{{claim}} 三个占位符，"
                          f"当前为 {text!r}") from None
    return text, claim


def notice_text(config: Config, prize: str) -> str:
    """The message that tells a winner their prize and how to claim it."""
    text, claim = notice_settings(config)
    return text.format(activity=config.activity.name, prize=prize, claim=claim)


declare_section("notify", keys={"text", "claim"}, check=notice_settings)
