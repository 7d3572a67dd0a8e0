"""The custom menu as the WeChat API expects it."""
from __future__ import annotations

from bot.config import MenuButton


def _button(button: MenuButton) -> dict:
    if button.sub:
        return {"name": button.name, "sub_button": [_button(b) for b in button.sub]}
    if button.url:
        return {"type": "view", "name": button.name, "url": button.url}
    return {"type": "click", "name": button.name, "key": button.key}


def menu_payload(buttons: tuple[MenuButton, ...]) -> dict:
    """Build the menu/create body from the configured buttons."""
    return {"button": [_button(b) for b in buttons]}
