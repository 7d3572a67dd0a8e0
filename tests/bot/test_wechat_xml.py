"""The webhook's XML reader gives the same fields as xmltodict, and refuses what is not a WeChat <xml>."""
from __future__ import annotations

import pytest
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.wechat.simulator import event_xml, text_xml
from bot.wechat.xml_fields import parse_fields


def xmltodict_fields(text: str):
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except Exception:  # noqa: BLE001 - anything xmltodict cannot read
        return None
    xml = doc.get("xml") if isinstance(doc, dict) else None
    return xml if isinstance(xml, dict) else None


DOCUMENTS = [
    text_xml("oUser-1", "  答题 ", 1_700_000_000, 123),
    text_xml("o]]>x", "A、C & <b>", 1, 2),
    event_xml("oUser-2", "subscribe", 1_700_000_000, "qrscene_7"),
    event_xml("oUser-3", "MASSSENDJOBFINISH", 1, extra={"MsgID": 5, "TotalCount": 3, "Status": "send success"}),
    "<xml><A>1</A><A>2</A><A>3</A><B x='1'>t</B><C><D>n</D><D/></C><E/></xml>",
    "<xml><Content><![CDATA[第一行\n第二行]]></Content><Content2>a<![CDATA[b]]>c</Content2></xml>",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_fields_are_what_xmltodict_reads(text):
    assert parse_fields(text) == xmltodict_fields(text)
    assert parse_fields(text) is not None


@pytest.mark.parametrize("text", [
    "", "<xml></xml>", "<xml>just text</xml>", "<other><a>1</a></other>", "<xml><a>1</a></xml><x/>",
    "<xml><a>1</a>", "not xml at all", "<xml><a>1</b></xml>",
    '<!DOCTYPE xml [<!ENTITY e "boom">]><xml><a>&e;</a></xml>',
    '<!DOCTYPE xml SYSTEM "http://example.org/x.dtd"><xml><a>1</a></xml>',
    "<xml><a>&undefined;</a></xml>",
])
def test_what_is_not_a_wechat_document_is_refused(text):
    assert parse_fields(text) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(text):
    parse_fields(text)
    parse_fields("<xml><Content>" + text + "</Content></xml>")
