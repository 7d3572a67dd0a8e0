"""Masking personal data for logs, chat confirmations and the published list."""
from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """138****8000: keep the first three and last four digits."""
    if not phone:
        return ""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str | None) -> str:
    """张*, 欧阳** : keep the first character only."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def short_openid(openid: str) -> str:
    """Shorten an openid for logs."""
    return openid[:6] + "…" if len(openid) > 8 else openid
