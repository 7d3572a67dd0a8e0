"""The registration details a contest asks for besides name and mobile (pure functions).

Configured in [registration]: `fields` (any of unit 工作单位, district 所在区县, id_number 身份证号,
address 通讯地址, asked in that order), `required` (default: all of them), `districts` (the list
people choose from; "新华" is read as 新华区). Followers send everything in one message
("王五 13912345678 单位：市一中 区县：新华") or one field at a time when asked, and may correct
any field later with its label ("单位：市二中"). Everything personal is masked when echoed.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from questions.fields import fold

from bot.config import Config, ConfigError, declare_section, per_config

UNIT, DISTRICT, ID_NUMBER, ADDRESS = "unit", "district", "id_number", "address"
FIELDS = (UNIT, DISTRICT, ID_NUMBER, ADDRESS)
LABELS = {UNIT: "工作单位", DISTRICT: "所在区县", ID_NUMBER: "身份证号", ADDRESS: "通讯地址"}
EXAMPLES = {UNIT: "市第一中学", DISTRICT: "新华区", ID_NUMBER: "410105199001011234", ADDRESS: "新华路1号3单元"}
# What people write before each field's value.
_FIELD_LABELS = {
    UNIT: ("工作单位", "所在单位", "单位", "学校", "公司"),
    DISTRICT: ("所在区县", "区县", "所在区", "区域", "地区"),
    ID_NUMBER: ("身份证号码", "身份证号", "身份证", "证件号"),
    ADDRESS: ("通讯地址", "邮寄地址", "收件地址", "地址"),
}
_ID = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
MAX_VALUE = 100


@dataclass(frozen=True)
class DetailSettings:
    fields: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    award_units: int = 3  # the organisation award (组织奖): how many units
    headcounts: tuple[tuple[str, int], ...] = ()  # unit -> head count: rank by players per head
    leaderboard_shows: str = "name"  # or "unit": the leaderboard names players' units


@per_config
def detail_settings(config: Config) -> DetailSettings:
    """Read [registration]; ConfigError naming the key and what it may hold."""
    table = config.section("registration")
    where = f"{config.source}: registration"

    def names(key: str, default) -> tuple[str, ...]:
        value = table.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}.{key}: 应为列表，如 [\"unit\", \"district\"]，当前为 {value!r}")
        return tuple(value)

    fields = names("fields", [])
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise ConfigError(f"{where}.fields: {'、'.join(unknown)} 不是可登记的项；可用："
                          + "、".join(f"{f}（{LABELS[f]}）" for f in FIELDS))
    required = names("required", list(fields))
    extra = [f for f in required if f not in fields]
    if extra:
        raise ConfigError(f"{where}.required: {'、'.join(extra)} 不在 registration.fields 中")
    districts = tuple(d.strip() for d in names("districts", []) if d.strip())
    if DISTRICT in fields and not districts:
        raise ConfigError(f"{where}.districts: 登记“所在区县”时应列出可选的区县，如 [\"新华区\", \"桥西区\"]")
    ordered = tuple(f for f in FIELDS if f in fields)
    award = table.get("award_units", 3)
    if isinstance(award, bool) or not isinstance(award, int) or award < 0:
        raise ConfigError(f"{where}.award_units: 应为组织奖的单位数（0 表示不评），当前为 {award!r}")
    heads = table.get("headcounts", {})
    if not isinstance(heads, dict) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                              for v in heads.values()):
        raise ConfigError(f"{where}.headcounts: 应为单位到人数的表，如 {{ \"市第一中学\" = 1200 }}，当前为 {heads!r}")
    shows = table.get("leaderboard_shows", "name")
    if shows not in ("name", "unit") or (shows == "unit" and UNIT not in ordered):
        raise ConfigError(f"{where}.leaderboard_shows: 应为 \"name\"（打码的姓名）或 \"unit\"（工作单位，"
                          f"需在 fields 中登记 unit），当前为 {shows!r}")
    return DetailSettings(fields=ordered, required=tuple(f for f in ordered if f in required), districts=districts,
                          award_units=award, headcounts=tuple(sorted(heads.items())), leaderboard_shows=shows)


declare_section("registration", keys={"fields", "required", "districts", "award_units", "headcounts",
                                      "leaderboard_shows"}, check=detail_settings)


# -- checking ---------------------------------------------------------------------------------

def id_number_ok(value: str) -> bool:
    """An 18-digit resident ID: a real birth date and the ISO 7064 MOD 11-2 check character."""
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return False
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not dt.date(1900, 1, 1) <= born <= dt.date.today():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == value[17]


def match_district(text: str, districts: tuple[str, ...]) -> str | None:
    """The configured district a person meant: exact, or without its 区/县/市 ("新华" for 新华区)."""
    text = text.strip()
    for name in districts:
        if text == name or (len(text) >= 2 and name.rstrip("区县市") == text.rstrip("区县市")):
            return name
    return None


def mask_id(value: str) -> str:
    """4101**********1234"""
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def mask_address(value: str) -> str:
    """The first six characters, then ***."""
    return value[:6] + "***" if len(value) > 6 else value[:2] + "***"


def masked(field_name: str, value: str) -> str:
    if field_name == ID_NUMBER:
        return mask_id(value)
    if field_name == ADDRESS:
        return mask_address(value)
    return value


# -- reading a message ---------------------------------------------------------------------------

@dataclass
class Read:
    """The fields found in a message, what is left of it (for name and mobile), and the problems."""

    values: dict[str, str] = field(default_factory=dict)
    rest: str = ""
    problems: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=8)
def _label_pattern(settings: DetailSettings) -> re.Pattern | None:
    labels = sorted((label for f in settings.fields for label in _FIELD_LABELS[f]), key=len, reverse=True)
    if not labels:
        return None
    return re.compile("(" + "|".join(map(re.escape, labels)) + r")\s*(?:是|为)?\s*[:：]?\s*")


def _field_of(label: str, settings: DetailSettings) -> str:
    return next(f for f in settings.fields if label in _FIELD_LABELS[f])


def read_details(text: str, settings: DetailSettings, *, awaiting: str = "") -> Read:
    """Find the configured fields in a message: by their labels, an ID number anywhere, a district
    named alone, and, when one field was asked for, the whole message as that field."""
    read = Read(rest=fold(text or ""))
    if not settings.fields:
        return read
    pattern = _label_pattern(settings)
    labelled = list(pattern.finditer(read.rest)) if pattern else []
    if labelled:
        pieces = [read.rest[: labelled[0].start()]]
        for i, match in enumerate(labelled):
            end = labelled[i + 1].start() if i + 1 < len(labelled) else len(read.rest)
            value = read.rest[match.end(): end]
            # A value ends at a comma or a mobile number; what follows it belongs to name and mobile.
            cut = re.search(r"[,，;；。\n]|(?<!\d)1[3-9]\d{9}(?!\d)", value)
            if cut:
                pieces.append(value[cut.start():])
                value = value[: cut.start()]
            _put(read, _field_of(match.group(1), settings), value.strip(" ,，;；。"), settings)
        read.rest = " ".join(pieces)
    if ID_NUMBER in settings.fields and ID_NUMBER not in read.values:
        found = _ID.search(read.rest)
        if found:
            _put(read, ID_NUMBER, found.group(1), settings)
            read.rest = read.rest[: found.start()] + " " + read.rest[found.end():]
    if DISTRICT in settings.fields and DISTRICT not in read.values:
        for word in re.split(r"[\s,，;；、]+", read.rest):
            district = match_district(word, settings.districts) if word else None
            if district:
                read.values[DISTRICT] = district
                read.rest = read.rest.replace(word, " ", 1)
                break
    if awaiting and awaiting not in read.values and not read.problems:
        value = read.rest.strip(" ,，;；。")
        if value and not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", value):
            _put(read, awaiting, value, settings)
            read.rest = ""
    return read


def _put(read: Read, field_name: str, value: str, settings: DetailSettings) -> None:
    label = LABELS[field_name]
    if not value:
        read.problems.append(f"{label}没有填写内容，请在“{label}：”后面写上，例如：{label}：{EXAMPLES[field_name]}")
        return
    if len(value) > MAX_VALUE:
        read.problems.append(f"{label}太长了（最多 {MAX_VALUE} 个字），请简写后重新发送")
        return
    if field_name == ID_NUMBER:
        value = value.upper().replace(" ", "")
        if not id_number_ok(value):
            read.problems.append(f"身份证号「{mask_id(value)}」校验不通过（应为18位，最后一位可为X），请核对后重新发送")
            return
    if field_name == DISTRICT:
        district = match_district(value, settings.districts)
        if district is None:
            read.problems.append(f"「{value[:20]}」不在本次活动的区县中，请从以下选择一个：{'、'.join(settings.districts)}")
            return
        value = district
    read.values[field_name] = value


def looks_like_details(text: str, settings: DetailSettings) -> bool:
    """Say whether a message carries a labelled field (a correction sent at any time)."""
    pattern = _label_pattern(settings)
    return bool(pattern and pattern.search(fold(text or "")))


# -- wording ------------------------------------------------------------------------------------

def missing(settings: DetailSettings, have: dict[str, str]) -> list[str]:
    """The required fields not yet given, in asking order."""
    return [f for f in settings.required if not have.get(f)]


def ask_text(settings: DetailSettings, field_name: str) -> str:
    """Ask for one field."""
    label = LABELS[field_name]
    if field_name == DISTRICT:
        return f"请回复你的{label}，可选：{'、'.join(settings.districts)}"
    return f"请回复你的{label}，例如：{EXAMPLES[field_name]}"


def echo_lines(settings: DetailSettings, values: dict[str, str]) -> str:
    """What is stored besides name and mobile, masked, for the confirmation."""
    return "".join(f"，{LABELS[f]} {masked(f, values[f])}" for f in settings.fields if values.get(f))


def hint_text(settings: DetailSettings) -> str:
    """How to send everything in one message."""
    if not settings.fields:
        return ""
    example = " ".join(f"{LABELS[f]}：{EXAMPLES[f]}" for f in settings.fields)
    return f"也可以一次发齐，例如：张三 13800138000 {example}"
