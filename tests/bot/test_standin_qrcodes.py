"""The stand-in answers the channel-code calls as WeChat does: qrcode/create, then showqrcode with the ticket."""
from __future__ import annotations

import struct
import zlib
from urllib.parse import quote

import pytest

from bot.wechat.api import SHOWQRCODE_URL, image_kind, showqrcode_url
from bot.wechat.standin import create_standin


@pytest.fixture
def standin():
    app = create_standin()
    client = app.test_client()
    token = client.post("/cgi-bin/stable_token", json={"grant_type": "client_credential", "appid": "wx1",
                                                       "secret": "s"}).get_json()["access_token"]
    return app, client, token


def create(client, token, scene, action="QR_LIMIT_STR_SCENE"):
    return client.post(f"/cgi-bin/qrcode/create?access_token={token}",
                       json={"action_name": action, "action_info": {"scene": {"scene_str": scene}}}).get_json()


def png_chunks(data: bytes) -> dict[bytes, list[bytes]]:
    """Parse a PNG's chunks, checking each CRC."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks: dict[bytes, list[bytes]] = {}
    i = 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + length]
        assert struct.unpack(">I", data[i + 8 + length:i + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.setdefault(kind, []).append(body)
        i += 12 + length
    return chunks


def test_a_code_is_created_once_per_scene_and_its_image_served_without_a_token(standin):
    _, client, token = standin
    first = create(client, token, "ch-001")
    assert set(first) == {"ticket", "url"} and first["url"].startswith("http://weixin.qq.com/q/")
    assert create(client, token, "ch-001") == first
    assert create(client, token, "ch-002")["ticket"] != first["ticket"]
    image = client.get(f"/cgi-bin/showqrcode?ticket={quote(first['ticket'], safe='')}")
    assert image.status_code == 200 and image.mimetype == "image/png"
    chunks = png_chunks(image.data)
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][0][:10])
    assert (width, height, depth, colour) == (296, 296, 8, 0)
    assert len(zlib.decompress(b"".join(chunks[b"IDAT"]))) == height * (width + 1)
    assert f"Comment\x00{first['url']}".encode() in chunks[b"tEXt"]
    # Unencoded, the ticket's + turns into a space and the ticket is not found.
    assert client.get(f"/cgi-bin/showqrcode?ticket={first['ticket']}").status_code == 404


@pytest.mark.parametrize("scene,action,errcode", [
    ("", "QR_LIMIT_STR_SCENE", 40053),
    ("x" * 65, "QR_LIMIT_STR_SCENE", 40053),
    ("ch-1", "QR_SCENE", 40004),
])
def test_bad_requests_get_errcodes(standin, scene, action, errcode):
    _, client, token = standin
    assert create(client, token, scene, action)["errcode"] == errcode


def test_past_the_permanent_code_limit_comes_45029(standin):
    app, client, token = standin
    app.extensions["standin"].qrcode_limit = 1
    assert "ticket" in create(client, token, "ch-001")
    assert create(client, token, "ch-002") == {"errcode": 45029, "errmsg": "qrcode count out of limit"}
    assert "ticket" in create(client, token, "ch-001")  # a scene it already has is not a new code


def test_no_token_no_code(standin):
    _, client, _ = standin
    assert create(client, "stale", "ch-001")["errcode"] == 40001


def test_the_image_address_is_wechats_mp_host_except_for_a_stand_in():
    ticket = "gQH+8D/w=="
    assert showqrcode_url("https://api.weixin.qq.com/cgi-bin/", ticket) == f"{SHOWQRCODE_URL}?ticket=gQH%2B8D%2Fw%3D%3D"
    assert showqrcode_url("https://sh.api.weixin.qq.com/cgi-bin/", ticket).startswith(SHOWQRCODE_URL)
    assert (showqrcode_url("http://127.0.0.1:8081/cgi-bin/", ticket)
            == "http://127.0.0.1:8081/cgi-bin/showqrcode?ticket=gQH%2B8D%2Fw%3D%3D")
    assert SHOWQRCODE_URL == "https://mp.weixin.qq.com/cgi-bin/showqrcode"


def test_image_kind_reads_the_signature():
    assert image_kind(b"\x89PNG\r\n\x1a\n...") == "png"
    assert image_kind(b"\xff\xd8\xff\xe0...") == "jpg"
    assert image_kind(b"<html>") is None
