"""How dates are written in replies and pages: 4月21日, 4月21日（周三）."""
from __future__ import annotations

import datetime as dt

WEEKDAYS = "一二三四五六日"


def day(value: dt.date) -> str:
    """Write a date as month and day, e.g. 4月21日."""
    return f"{value.month}月{value.day}日"


def day_with_weekday(value: dt.date) -> str:
    """Write a date with its weekday, e.g. 4月21日（周三）."""
    return f"{day(value)}（周{WEEKDAYS[value.weekday()]}）"
