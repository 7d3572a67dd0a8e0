"""Reading and wording a qualified player's name and mobile number for the prize (pure functions)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from questions.fields import fold

from bot.masking import mask_phone

STATE = "contact"  # Follower.state while a qualified player's details are awaited
MOBILE = re.compile(r"(?<![\d+])(?:\+?86[\s-]?)?(1[3-9]\d(?:[\s-]?\d){8})(?!\d)")
_LABELS = re.compile(r"(?i)(姓名|名字|联系电话|电话号码|手机号码|手机号|手机|电话|号码|联系方式|领奖|登记|\bname\b|\bphone\b|"
                     r"\bmobile\b|\btel\b)(?:是|为)?[:：]?")
# How people introduce themselves before the name: 我叫王五, 我是王五, 本人王五, 我的名字是王五.
_GREETINGS = frozenset({"你好", "您好", "hi", "hello", "谢谢", "麻烦了"})
_INTRO = re.compile(r"^(?:你好|您好)?[,，]?(?:我的名字是|我的名字叫|我叫|我是|本人是|本人|名字叫|叫)")
_NAME = re.compile(r"^(?:[\u4e00-\u9fff]{2,10}(?:[·•][\u4e00-\u9fff]{1,10})*|[A-Za-z][A-Za-z .'-]{1,38}[A-Za-z])$")
USE_NOTE = "信息仅用于本次活动联系和发放奖品，活动结束后按规定删除。"


@dataclass(frozen=True)
class ContactDetails:
    name: str
    phone: str


# A mobile number with a digit too many or too few: 10 to 12 digits from a 1, spaced or not. Dates,
# order numbers and other long numbers do not look like one.
_PHONE_ATTEMPT = re.compile(r"(?<!\d)1(?:[\s-]?\d){9,11}(?!\d)")


def looks_like_contact(text: str) -> bool:
    """Say whether a message looks like contact details (a mobile number, +86 or not), even a mistyped one."""
    folded = fold(text or "")
    return bool(MOBILE.search(folded) or _PHONE_ATTEMPT.search(folded))


def parse_contact(text: str, keywords: frozenset[str] = frozenset()) -> ContactDetails | str:
    """Read "name + mobile" from a message; return the details or a Chinese error to reply.

    People write "我叫王五，电话13912345678": the introduction and the labels are not the name. A word
    the bot answers (`keywords`, normalised as outreach.normalize does) is never taken for a name.
    """
    compact = fold(text or "")
    match = MOBILE.search(compact)
    if not match:
        return "没有找到有效的手机号（11位，以1开头的大陆手机号）。请按“姓名 手机号”发送，例如：张三 13800138000"
    rest = (compact[: match.start()] + " " + compact[match.end():])
    rest = _LABELS.sub(" ", rest)
    parts = [_INTRO.sub("", part) for part in re.sub(r"[,，;；、/|:：+。.!！]+", " ", rest).split()]
    name = " ".join(part for part in parts if part and part.lower() not in _GREETINGS)
    if not name:
        return "请同时发送姓名，例如：张三 13800138000"
    if name.lower() in keywords:
        return f"「{name[:20]}」不是姓名。请按“姓名 手机号”发送，例如：张三 13800138000"
    if re.search(r"\d", name) or not _NAME.match(name):
        return f"姓名「{name[:20]}」看起来不对，请填写真实姓名（2–10个汉字，或英文名），例如：张三 13800138000"
    return ContactDetails(name=name, phone=re.sub(r"[\s-]", "", match.group(1)))


def request_text() -> str:
    """Ask for the details, and say what they are used for."""
    return "请回复“姓名 手机号”登记领奖信息，例如：张三 13800138000\n" + USE_NOTE


def prompt_text(pass_score: int) -> str:
    """Ask a player who has qualified for their details (the 领奖 keyword)."""
    return f"恭喜你达到{pass_score}分的获奖资格线！{request_text()}"


NOT_COLLECTED_TEXT = "本次活动无需登记领奖信息，获奖名单将在本公众号公布。"


def below_pass_text(config, best: int | None) -> str:
    """Tell a player below the pass score what registration needs."""
    shown = f"你目前的最好成绩是{best}分。" if best is not None else "你还没有完成答题。"
    return (f"成绩达到{config.quiz.pass_score}分即可登记领奖信息。{shown}"
            f"回复“{config.keywords['quiz'][0]}”参加有奖竞答。")


def registered_text(name: str, phone: str) -> str:
    """Show a registered player what is stored, masked."""
    return f"你已登记：{name}，手机号 {mask_phone(phone)}。如需修改，请回复新的“姓名 手机号”。\n" + USE_NOTE


def stored_text(name: str, phone: str, corrected: bool) -> str:
    """Confirm details just stored, masked."""
    verb = "已更新" if corrected else "已登记"
    return f"{verb}领奖信息：{name}，手机号 {mask_phone(phone)}。如需修改，重新发送“姓名 手机号”即可。\n" + USE_NOTE


def hint_line() -> str:
    """The one line added to other replies while a qualified player's details are awaited."""
    return "（登记领奖信息：请回复“姓名 手机号”，例如：张三 13800138000）"
