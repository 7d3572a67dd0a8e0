"""deploy/nginx.conf.example in a real nginx in front of the web unit's gunicorn (skipped without nginx)."""
from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import signal
import subprocess
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.wechat.simulator import WeChatSimulator, sign

from tests.deploy.conftest import DEPLOY, TOKEN, free_port, run_unit, unit_env

pytestmark = pytest.mark.skipif(not shutil.which("nginx"), reason="needs nginx")


def self_signed(folder) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bot.example.gov.cn")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def proxy(start_web, tmp_path):
    """nginx with the example site on local ports in front of gunicorn: (http base, https base, session)."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    assert run_unit("ipweek-init.service", unit_env(url, 0)).returncode == 0
    web = start_web(url)
    http_port, https_port = free_port(), free_port()
    cert, key = self_signed(tmp_path)
    site = (DEPLOY / "nginx.conf.example").read_text(encoding="utf-8")
    for old, new in (("listen [::]:80;", ""), ("listen [::]:443 ssl http2;", ""),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
                     ("/etc/letsencrypt/live/bot.example.gov.cn/fullchain.pem", cert),
                     ("/etc/letsencrypt/live/bot.example.gov.cn/privkey.pem", key),
                     ("/var/log/nginx/ipweek.access.log", str(tmp_path / "access.log")),
                     ("server 127.0.0.1:8080", f"server {web.base.removeprefix('http://')}")):
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    temp = tmp_path / "nginx-temp"
    temp.mkdir(mode=0o777)
    (tmp_path / "nginx.conf").write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    include {tmp_path}/site.conf;
}}
""", encoding="utf-8")
    command = ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30, check=False)
    assert checked.returncode == 0, checked.stderr
    nginx = subprocess.Popen([*command, "-g", "daemon off;"], stderr=subprocess.PIPE)
    base = f"https://127.0.0.1:{https_port}"
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the certificate below
    session.verify = cert
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                session.get(base + "/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert nginx.poll() is None and time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{http_port}", base, session
    finally:
        session.close()
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=15)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()


def test_webhook_health_and_console_through_tls(proxy):
    _, https, session = proxy

    def post(query, body):
        response = session.post(https + "/wechat", params=query, data=body, timeout=10,
                                headers={"Content-Type": "text/xml"})
        return response.status_code, response.content.decode("utf-8")

    reply = WeChatSimulator(token=TOKEN, post=post).text("sim-user-1", "答题")
    assert reply.status == 200 and "第1/10题【" in reply.content
    assert session.get(https + "/healthz", timeout=10).json()["status"] == "ok"
    assert session.get(https + "/admin/login", timeout=10).status_code == 200
    assert session.get(https + "/", timeout=10).status_code == 404


def test_oversized_webhook_body_is_refused_by_the_proxy_and_http_redirects(proxy):
    http, https, session = proxy
    now = str(int(time.time()))
    query = {"signature": sign(TOKEN, now, "7"), "timestamp": now, "nonce": "7"}
    big = session.post(https + "/wechat", params=query, data=b"x" * 70_000, timeout=10)
    assert big.status_code == 413
    moved = session.get(http + "/wechat", allow_redirects=False, timeout=10)
    assert moved.status_code == 301 and moved.headers["Location"].startswith("https://")
