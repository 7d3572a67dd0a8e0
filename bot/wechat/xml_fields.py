"""Read the XML WeChat posts: one <xml> element of fields, read into a dict as xmltodict would.

WeChat's messages are flat (a nested element or a repeated one appears only in a few events),
so a small expat handler does the job of the general converter at a fraction of its cost on
every message. Document type declarations and entities are refused, so a hostile body cannot
expand or fetch anything.
"""
from __future__ import annotations

from xml.parsers import expat


class _Refused(Exception):
    """The body declares a document type or an entity."""


def _refuse(*_args) -> None:
    raise _Refused


class _Builder:
    """Builds nested dicts: text-only elements become stripped strings (None when empty)."""

    def __init__(self):
        self.stack: list[tuple[str, dict, list[str], dict]] = []
        self.root: tuple[str, object] | None = None

    def start(self, name: str, attrs: dict) -> None:
        self.stack.append((name, {}, [], attrs))

    def chars(self, data: str) -> None:
        self.stack[-1][2].append(data)

    def end(self, _name: str) -> None:
        name, children, parts, attrs = self.stack.pop()
        text = "".join(parts).strip()
        if children or attrs:
            value: object = {f"@{k}": v for k, v in attrs.items()}
            value.update(children)
            if text:
                value["#text"] = text
        else:
            value = text or None
        if not self.stack:
            self.root = (name, value)
            return
        siblings = self.stack[-1][1]
        if name not in siblings:
            siblings[name] = value
        elif isinstance(siblings[name], list):
            siblings[name].append(value)
        else:
            siblings[name] = [siblings[name], value]


def parse_fields(text: str) -> dict | None:
    """The fields of a WeChat <xml> document; None when the text is not one (or is hostile)."""
    builder = _Builder()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.chars
    try:
        parser.Parse(text, True)
    except (expat.ExpatError, _Refused, ValueError):
        return None
    if builder.root is None or builder.root[0] != "xml" or not isinstance(builder.root[1], dict):
        return None
    return builder.root[1]
