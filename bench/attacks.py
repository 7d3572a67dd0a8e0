"""Attack drill: the attacks of issue 16 run against a real `python -m bot serve`, each printed with its outcome.

Everything stays on loopback and is bounded in count and time (about a minute in all). The
server runs on a fresh SQLite file with the sample bank, the stand-in API and a staff password;
`server.trusted_proxies = 1` lets the drill speak from many client addresses (X-Forwarded-For),
as nginx would pass them. A second server on the same database runs in safe mode, and a third
points at a database that accepts connections and never answers.

    python bench/attacks.py

Each line is `PASS` or `FAIL`, the attack, and what the server did; the last line is PASS only
if every attack was refused or survived as it should be. The exit code is 1 on any FAIL.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.bench_load import answer_book, choose, free_port, start_gunicorn  # noqa: E402
from bot.conversation.engine import BUSY_TEXT  # noqa: E402
from bot.wechat.simulator import WeChatSimulator, http_poster, sign, text_xml  # noqa: E402

TOKEN = "attacktoken"
PASSWORD = "drill-password-7"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_WAITS = 5  # seconds WeChat waits for a reply
CSRF = re.compile(r'name="csrf[_-]token" (?:value|content)="([^"]+)"')
SIGNED = re.compile(r"(signature|timestamp|nonce)=[0-9a-f]{6,}")


def config_text(db_url: str, api_port: int, standin: bool = True, **wechat: str) -> str:
    """The drill's config; only the first server runs the stand-in (its port is taken after that)."""
    now = dt.datetime.now()
    extra = "".join(f'{key} = "{value}"\n' for key, value in wechat.items())
    return f"""
[wechat]
app_id = "wxattackdrill0001"
app_secret = "drill-secret"
token = "{TOKEN}"
api_base_url = "http://127.0.0.1:{api_port}/cgi-bin/"
standin = {'true' if standin else 'false'}
{extra}
[server]
trusted_proxies = 1
[database]
url = "{db_url}"
[activity]
name = "演练"
timezone = "Asia/Shanghai"
start = {(now - dt.timedelta(days=2)):%Y-%m-%dT%H:%M:%S}
end = {(now + dt.timedelta(days=2)):%Y-%m-%dT%H:%M:%S}
[quiz]
bank = "default"
questions_per_attempt = 5
max_attempts = 3
max_attempts_per_day = 3
pass_score = 50
[admin]
password = "{PASSWORD}"
secret_key = "drill-secret-key"
[ratelimit]
messages = 0
"""


class Server:
    """`python -m bot serve` on a config, its output kept in a log file."""

    def __init__(self, folder: Path, name: str, text: str):
        self.config = folder / f"{name}.toml"
        self.config.write_text(text, encoding="utf-8")
        self.port = free_port()
        self.log = folder / f"{name}.log"
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", "--config", str(self.config), *args], cwd=ROOT,
                              env=_env(), capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> "Server":
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(self.config), "serve",
                                      "--port", str(self.port), "--no-scheduler"], cwd=ROOT, env=_env(),
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.base + "/healthz", timeout=WECHAT_WAITS + 2)
                return self
            except requests.RequestException:
                time.sleep(0.2)
        raise SystemExit(f"the server did not start; see {self.log}")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    for name in ("BOT_CONFIG", "DATABASE_URL", "ADMIN_PASSWORD", "WECHAT_TOKEN", "WECHAT_ENCODING_AES_KEY"):
        env.pop(name, None)
    return env


class Report:
    def __init__(self):
        self.failed = 0

    def line(self, ok: bool, attack: str, outcome: str) -> None:
        self.failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {attack} -> {outcome}", flush=True)


def signed(timestamp: str, nonce: str) -> dict:
    return {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


def post(base: str, query: dict, body: bytes, **headers) -> requests.Response:
    return requests.post(base + "/wechat", params=query, data=body, timeout=WECHAT_WAITS,
                         headers={"Content-Type": "text/xml", **headers})


def replay_attacks(server: Server, report: Report) -> None:
    now = int(time.time())
    body = text_xml("oDrillReplay000000000000001", "帮助", now, 9_000_001).encode()
    for label, stamp in (("signed five days ago", str(now - 5 * 86400)), ("timestamp=abc", "abc"),
                         ("timestamp=99999999999", "99999999999")):
        status = post(server.base, signed(stamp, "5150"), body).status_code
        report.line(status == 403, f"replay: a query string {label}", f"HTTP {status}")
    query = signed(str(now), "626262")
    first = post(server.base, query, body)
    other_body = post(server.base, query, text_xml("oDrillReplay000000000000001", "答题", now, 9_000_002).encode())
    other_sender = post(server.base, query, text_xml("oDrillForged000000000000001", "帮助", now, 9_000_003).encode())
    retry = post(server.base, query, body)
    report.line(first.status_code == 200 and other_body.status_code == 403 and other_sender.status_code == 403,
                "replay: one signed query string with another body, then another FromUserName",
                f"first HTTP {first.status_code}, then {other_body.status_code} and {other_sender.status_code}")
    report.line(retry.status_code == 200 and retry.content == first.content,
                "a WeChat retry: the same message on the same query string",
                f"HTTP {retry.status_code}, {'the stored reply' if retry.content == first.content else 'another reply'}")


def safe_mode_attack(folder: Path, db_url: str, api_port: int, report: Report) -> None:
    safe = Server(folder, "safe", config_text(db_url, api_port, standin=False, encoding_aes_key=AES_KEY,
                                              message_mode="safe")).start()
    try:
        now = int(time.time())
        body = text_xml("oDrillSafe00000000000000001", "帮助", now, 9_100_001).encode()
        status = post(safe.base, signed(str(now), "777001"), body).status_code
        wechat = WeChatSimulator(token=TOKEN, encoding_aes_key=AES_KEY, app_id="wxattackdrill0001",
                                 post=http_poster(safe.base + "/wechat", timeout=WECHAT_WAITS))
        encrypted = wechat.text("oDrillSafe00000000000000002", "帮助")
        report.line(status == 403 and encrypted.status == 200 and "回复以下关键词" in encrypted.content,
                    "safe mode: a plaintext POST carrying only signature",
                    f"HTTP {status}; an encrypted message: HTTP {encrypted.status}")
    finally:
        safe.stop()


class Silent:
    """A database that accepts connections and never answers."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for s in self.held:
            s.close()


def hung_database_attack(folder: Path, api_port: int, report: Report) -> None:
    """gunicorn, the production server, on a database that never answers (`serve` refuses to start on one)."""
    silent = Silent()
    hung = Server(folder, "hung", config_text(f"postgresql+psycopg://drill@127.0.0.1:{silent.port}/ipweek",
                                              api_port, standin=False))
    refused = hung.run("serve", "--port", str(hung.port), "--no-scheduler")
    report.line(refused.returncode == 1 and "无法使用数据库" in refused.stderr and "Traceback" not in refused.stderr,
                "`python -m bot serve` on a database that never answers",
                f"exit {refused.returncode}: {refused.stderr.strip()[:60]}…")
    hung.proc = start_gunicorn("bot:create_app()", hung.port, workers=2, threads=1,
                               env={**_env(), "BOT_CONFIG": str(hung.config)}, log=hung.log)
    try:
        wechat = WeChatSimulator(token=TOKEN, post=http_poster(hung.base + "/wechat", timeout=WECHAT_WAITS))
        started = time.monotonic()
        try:
            reply = wechat.text("oDrillHung00000000000000001", "答题")
            outcome = (reply.status, reply.content == BUSY_TEXT)
        except requests.RequestException as exc:
            outcome = (type(exc).__name__, False)
        took = time.monotonic() - started
        started = time.monotonic()
        try:
            health = requests.get(hung.base + "/healthz", timeout=WECHAT_WAITS).status_code
        except requests.RequestException as exc:
            health = type(exc).__name__
        health_took = time.monotonic() - started
        report.line(outcome == (200, True) and health == 503,
                    "a database that accepts and never answers",
                    f"follower: {'busy reply' if outcome[1] else outcome[0]} in {took:.1f} s; "
                    f"/healthz {health} in {health_took:.1f} s (WeChat waits {WECHAT_WAITS} s)")
    finally:
        hung.stop()
        silent.close()


def staff_client(base: str, address: str) -> requests.Session:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = address
    return session


def csrf(session: requests.Session, base: str, path: str = "/admin/login") -> str:
    return CSRF.search(session.get(base + path, timeout=10).text).group(1)


def login(session: requests.Session, base: str, password: str) -> requests.Response:
    return session.post(base + "/admin/login", data={"csrf_token": csrf(session, base), "password": password},
                        allow_redirects=False, timeout=30)


def session_attack(server: Server, report: Report) -> None:
    staff = staff_client(server.base, "10.9.0.1")
    logged_in = login(staff, server.base, PASSWORD).status_code
    copied = dict(staff.cookies)
    token = csrf(staff, server.base, "/admin/")
    staff.post(server.base + "/admin/logout", data={"csrf_token": token}, timeout=10)
    thief = requests.get(server.base + "/admin/results/", cookies=copied, allow_redirects=False, timeout=10,
                         headers={"X-Forwarded-For": "10.9.0.2"})
    report.line(logged_in == 302 and thief.status_code == 302 and "/admin/login" in thief.headers.get("Location", ""),
                "a session cookie copied before logout, used after it",
                f"HTTP {thief.status_code} to {thief.headers.get('Location', '-')}")


def bomb_attack(server: Server, folder: Path, report: Report) -> None:
    from tests.questions.test_limits import xlsx_with_long_stem

    bomb = xlsx_with_long_stem(folder / "题库.xlsx", 512 * 1024 * 1024)
    stem = xlsx_with_long_stem(folder / "stem.xlsx", 32 * 1024 * 1024)
    staff = staff_client(server.base, "10.9.1.1")
    login(staff, server.base, PASSWORD)
    token = csrf(staff, server.base, "/admin/banks/")
    before = server.rss_mb()
    for label, path in (("one 512 MiB shared string", bomb), ("a 32 MiB stem", stem)):
        started = time.monotonic()
        with path.open("rb") as fh:
            page = staff.post(server.base + "/admin/banks/check", data={"csrf_token": token, "bank": "bomb"},
                              files={"file": (path.name, fh)}, timeout=60)
        took = time.monotonic() - started
        refused = page.status_code == 200 and "超过上限" in page.text and 'name="token"' not in page.text
        report.line(refused, f"an xlsx of {path.stat().st_size // 1024} KB with {label}",
                    f"refused ('超过上限') in {took:.2f} s" if refused else f"HTTP {page.status_code}, not refused")
    grown = server.rss_mb() - before
    listing = server.run("questions", "list").stdout
    report.line(grown < 100 and "bomb" not in listing, "the server after both uploads",
                f"grew {grown:.0f} MB; no bank 'bomb' stored")
    cli = server.run("questions", "check", str(bomb))
    report.line(cli.returncode == 1 and "超过上限" in cli.stdout + cli.stderr and "Traceback" not in cli.stderr,
                "the same file through `questions check`", f"exit {cli.returncode}, the same limit")


def login_attacks(server: Server, report: Report) -> None:
    # 15 wrong passwords at once from one address: the per-address limit is 5 password checks.
    one = "10.9.2.1"
    with cf.ThreadPoolExecutor(15) as pool:
        statuses = list(pool.map(lambda _: login(staff_client(server.base, one), server.base, "wrong").status_code,
                                 range(15)))
    checked = statuses.count(401)
    report.line(checked <= 5 and 500 not in statuses and statuses.count(429) >= 10,
                "15 wrong passwords at once from one address (limit 5)",
                f"{checked} refused as wrong, {statuses.count(429)} locked out, {statuses.count(500)} errors")

    # 16 addresses x 5 wrong passwords while 4 followers play.
    book = answer_book()
    latencies: list[float] = []
    busy = [0]
    stop = threading.Event()

    def follower(i: int) -> None:
        wechat = WeChatSimulator(token=TOKEN, post=http_poster(server.base + "/wechat", timeout=WECHAT_WAITS))
        openid = f"oDrillPlayer{i:016d}"
        reply = wechat.text(openid, "答题").content
        while not stop.is_set():
            started = time.monotonic()
            reply = wechat.text(openid, choose(reply, book, True) if "题【" in reply else "答题").content
            latencies.append(time.monotonic() - started)
            busy[0] += reply == BUSY_TEXT

    players = [threading.Thread(target=follower, args=(i,)) for i in range(4)]
    for t in players:
        t.start()

    def storm(address: str) -> list[int]:
        client = staff_client(server.base, address)
        return [login(client, server.base, "wrong").status_code for _ in range(5)]

    with cf.ThreadPoolExecutor(16) as pool:
        results = [s for batch in pool.map(storm, [f"10.9.3.{i}" for i in range(16)]) for s in batch]
    stop.set()
    for t in players:
        t.join()
    median = statistics.median(latencies) * 1000 if latencies else 0.0
    report.line(500 not in results and busy[0] == 0,
                "16 addresses x 5 wrong passwords while 4 followers play",
                f"logins: {results.count(401)} wrong, {results.count(429)} refused, {results.count(500)} errors; "
                f"followers: {len(latencies)} answers, median {median:.0f} ms, {busy[0]} busy replies")
    everyone = login(staff_client(server.base, "10.9.4.1"), server.base, PASSWORD)
    report.line(everyone.status_code == 429 and "所有登录暂停" in everyone.text,
                "a login from a fresh address after 30 failures this minute (global ceiling 30)",
                f"HTTP {everyone.status_code}, all logins paused for the minute")


def slow_clients_attack(server: Server, report: Report) -> None:
    held = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"POST /wechat HTTP/1.1\r\nHost: bot\r\nContent-Length: 100000\r\n\r\n<xml>")
        held.append(s)
    try:
        wechat = WeChatSimulator(token=TOKEN, post=http_poster(server.base + "/wechat", timeout=WECHAT_WAITS))
        answered = 0
        for i in range(8):
            try:
                answered += "回复以下关键词" in wechat.text(f"oDrillSlow{i:018d}", "帮助").content
            except requests.RequestException:
                pass
        report.line(answered == 8, "200 slow clients holding connections", f"{answered} of 8 follower messages answered")
    finally:
        for s in held:
            s.close()


def simulator_attack(server: Server, report: Report) -> None:
    visitor = requests.Session()
    visitor.headers["X-Forwarded-For"] = "10.9.5.1"
    token = csrf(visitor, server.base, "/simulator/")

    def say(openid: str, content: str) -> requests.Response:
        return visitor.post(server.base + "/simulator/send", json={"openid": openid, "kind": "text", "content": content},
                            headers={"X-CSRF-Token": token}, timeout=10)

    statuses = [say(f"sim-flood-{i}", "帮助").status_code for i in range(30)]
    report.line(statuses.count(200) <= 10 and statuses.count(429) == 30 - statuses.count(200),
                "30 new simulator users from one address", f"{statuses.count(200)} made, {statuses.count(429)} refused")
    book = answer_book()
    reply = say("sim-flood-0", "答题").json()["content"]
    while "题【" in reply:
        reply = say("sim-flood-0", choose(reply, book, True)).json()["content"]
    say("sim-flood-0", "王冒领 13700137000")
    staff = staff_client(server.base, "10.9.5.2")
    login(staff, server.base, PASSWORD)
    results = staff.get(server.base + "/admin/results/", timeout=10).text
    drawn = staff.post(server.base + "/admin/results/draw", timeout=10,
                       data={"csrf_token": csrf(staff, server.base, "/admin/results/"), "rule": "top",
                             "tiers": "一等奖:3"}).text
    full = "得分：50分（满分50分）" in reply or "满分" in reply
    report.line(full and "137****7000" not in results and "137****7000" not in drawn,
                "a simulator user with full marks who registers", "not in the results page, not drawn")


def run(args) -> bool:
    report = Report()
    with tempfile.TemporaryDirectory(prefix="ipweek-attacks-") as tmp:
        folder = Path(tmp)
        api_port = free_port()
        db_url = f"sqlite:///{folder / 'bot.db'}"
        main = Server(folder, "bot", config_text(db_url, api_port))
        init = main.run("init-db")
        if init.returncode != 0:
            raise SystemExit(init.stderr)
        main.start()
        try:
            replay_attacks(main, report)
            slow_clients_attack(main, report)
            simulator_attack(main, report)
            session_attack(main, report)
            bomb_attack(main, folder, report)
            login_attacks(main, report)
            safe_mode_attack(folder, db_url, api_port, report)
        finally:
            main.stop()
        hung_database_attack(folder, api_port, report)
        logs = {path.name: path.read_text(errors="replace") for path in folder.glob("*.log")}
        leaked = [name for name, text in logs.items() if SIGNED.search(text) or PASSWORD in text]
        traced = [name for name, text in logs.items() if "Traceback" in text]
        report.line(not leaked and not traced, "every log line of the servers",
                    "no usable signature, no password, no traceback" if not leaked and not traced else
                    f"signature or password in {leaked or 'none'}, traceback in {traced or 'none'}")
        if args.keep_logs:
            for name, text in logs.items():
                (Path(args.keep_logs) / name).write_text(text)
    print("PASS" if not report.failed else f"FAIL ({report.failed} attacks not refused)")
    return not report.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-logs", metavar="DIR", help="copy the servers' logs here")
    args = parser.parse_args()
    sys.exit(0 if run(args) else 1)


if __name__ == "__main__":
    main()
