"""Load benchmark: simulated followers play whole quizzes against the real server under gunicorn.

It starts gunicorn on the bot (SQLite file or PostgreSQL) and, in the same run, gunicorn on a
bare Flask + wechatpy echo handler (the floor), drives both with the same client (signed XML
over keep-alive HTTP, WeChat-style retries mixed in), then checks every stored score against
what the client expected and prints turns/s, p50/p99 latency, errors and the ratio to the floor.

    python bench/bench_load.py                       # 300 followers, 16 connections, SQLite
    python bench/bench_load.py --followers 2000 --concurrency 64 --db both
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import importlib.util
import multiprocessing as mp
import os
import queue
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.simulator import sign, text_xml  # noqa: E402

TOKEN = "benchtoken"
QUESTIONS = 10
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Issue 8's target, at 64 concurrent connections.
TARGET_RATIO, TARGET_P99_MS, TARGET_CONCURRENCY = 0.5, 100.0, 64


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, url: str, api_base_url: str = "http://127.0.0.1:9/cgi-bin/") -> Path:
    now = dt.datetime.now()
    path = folder / "bench.toml"
    path.write_text(f"""
[wechat]
app_id = "wxbench"
app_secret = "bench-secret"
token = "{TOKEN}"
api_base_url = "{api_base_url}"
[server]
max_body_bytes = 65536
[database]
url = "{url}"
[activity]
name = "压测"
timezone = "Asia/Shanghai"
start = {(now - dt.timedelta(days=2)).strftime('%Y-%m-%dT%H:%M:%S')}
end = {(now + dt.timedelta(days=2)).strftime('%Y-%m-%dT%H:%M:%S')}
[quiz]
bank = "default"
questions_per_attempt = {QUESTIONS}
time_limit_minutes = 30
max_attempts = 3
max_attempts_per_day = 1
pass_score = 100
[scheduler]
embedded = false
""", encoding="utf-8")
    return path


def prepare_database(config_path: Path) -> None:
    from sqlalchemy import text

    from bot.banks import ensure_sample_bank
    from bot.config import load_config
    from bot.db import Database
    from bot.models import Base

    config = load_config(str(config_path))
    db = Database(config.database_url)
    if not db.is_sqlite:
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))
    db.create_all()
    with db.session() as session:
        ensure_sample_bank(session=session, name="default")
    db.dispose()


def answer_book() -> dict[str, object]:
    """Map each sample question's stem to the question, so the client can answer right."""
    from questions.importers import read_bank
    from questions.samples import IP_WEEK

    return {q.stem: q for q in read_bank(IP_WEEK).questions}


def start_gunicorn(app: str, port: int, workers: int, threads: int, env: dict, log: Path,
                    worker_class: str = "sync") -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", app, "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}",
           "-w", str(workers), "--threads", str(threads), "-k", worker_class, "--log-level", "info"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"gunicorn for {app} did not start; see {log}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


class Client:
    """One keep-alive connection posting signed XML."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, xml: str) -> tuple[int, str, float]:
        ts = str(int(time.time()))
        nonce = str(random.randrange(10**9))
        query = urlencode({"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce})
        body = xml.encode("utf-8")
        started = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request("POST", "/wechat?" + query, body, {"Content-Type": "text/xml"})
                response = self.conn.getresponse()
                data = response.read().decode("utf-8", "replace")
                return response.status, data, time.perf_counter() - started
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def content_of(xml: str) -> str:
    start = xml.find("<Content><![CDATA[")
    if start < 0:
        return ""
    return xml[start + 18: xml.find("]]></Content>", start)]


def choose(reply: str, book: dict, right: bool) -> str:
    """Read the question in a reply and answer it right or wrong."""
    lines = reply.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("第") and "题【" in line)
    stem = lines[head + 1]
    question = book[stem]
    shown = [line[3:] for line in lines[head + 2:] if len(line) > 2 and line[1:3] == ". "]
    if question.qtype == "判断":
        truth = bool(question.answer[0])
        return "对" if truth == right else "错"
    if question.qtype == "填空":
        return str(question.answer[0]) if right else "不知道"
    letters = "ABCDEFGH"
    correct = {question.options[letters.index(a)] for a in question.answer}
    picked = "".join(letters[i] for i, text in enumerate(shown) if text in correct)
    if right:
        return picked
    wrong = [letters[i] for i, text in enumerate(shown) if text not in correct]
    # When every option is right, naming only one of them is the wrong answer.
    return wrong[0] if wrong else picked[0]


def play_worker(port: int, openids: list[str], retry_rate: float, echo: bool, seed: int, out: mp.Queue) -> None:
    """Play whole quizzes (or, for the floor, the same number of echo turns) for some followers."""
    try:
        out.put(play(port, openids, retry_rate, echo, seed))
    except BaseException as exc:  # noqa: BLE001 - a client that breaks is an error in the report, not a hang
        out.put({"latencies": [], "errors": [f"client {seed} stopped: {exc!r}"], "expected": {}, "retries": 0})


def play(port: int, openids: list[str], retry_rate: float, echo: bool, seed: int) -> dict:
    rng = random.Random(seed)
    book = {} if echo else answer_book()
    client = Client(port)
    latencies, errors, expected, retries = [], [], {}, 0
    msg_id = seed * 10_000_000
    for openid in openids:
        create_time = int(time.time())
        reply, score = "", 0
        for turn in range(QUESTIONS + 1):
            msg_id += 1
            create_time += 1
            if echo:
                text = f"turn {turn}"
            elif turn == 0:
                text = "答题"
            else:
                right = zlib.crc32(f"{openid}:{turn}".encode()) % 4 != 0
                text = choose(reply, book, right)
                score += 10 if right else 0
            xml = text_xml(openid, text, create_time, msg_id)
            try:
                status, body, elapsed = client.post(xml)
                latencies.append(elapsed)
                if status != 200:
                    errors.append(f"{openid} turn {turn}: HTTP {status}")
                    break
                if rng.random() < retry_rate:
                    retries += 1
                    status2, body2, elapsed2 = client.post(xml)
                    latencies.append(elapsed2)
                    if status2 != 200 or content_of(body2) != content_of(body):
                        errors.append(f"{openid} turn {turn}: retry answered differently")
            except Exception as exc:  # noqa: BLE001 - count every failure as an error
                errors.append(f"{openid} turn {turn}: {exc!r}")
                break
            reply = content_of(body)
            if "系统繁忙" in reply:
                errors.append(f"{openid} turn {turn}: busy reply")
                break
        if not echo:
            expected[openid] = score
            if f"得分：{score}分" not in reply:
                errors.append(f"{openid}: final reply does not show 得分：{score}分")
    return {"latencies": latencies, "errors": errors, "expected": expected, "retries": retries}


def gather(procs: list, out) -> tuple[list, int]:
    """Every client process's report from the queue, and how many processes died without one."""
    results = []
    while len(results) < len(procs):
        try:
            results.append(out.get(timeout=1))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and out.empty():
                break
    for p in procs:
        p.join()
    return results, len(procs) - len(results)


def drive(port: int, followers: int, concurrency: int, retry_rate: float, echo: bool, prefix: str) -> dict:
    openids = [f"{prefix}-{i:05d}" for i in range(followers)]
    shares = [openids[i::concurrency] for i in range(concurrency)]
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    # Processes, not threads, so the client does not serialise on one GIL.
    procs = [ctx.Process(target=play_worker, args=(port, share, retry_rate, echo, i + 1, out))
             for i, share in enumerate(shares) if share]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results, missing = gather(procs, out)
    if missing:
        results.append({"latencies": [], "errors": [f"{missing} client process(es) died without a report"],
                        "expected": {}, "retries": 0})
    elapsed = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "turns": len(latencies), "seconds": elapsed, "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000 if latencies else 0,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0,
        "errors": [e for r in results for e in r["errors"]],
        "expected": {k: v for r in results for k, v in r["expected"].items()},
        "retries": sum(r["retries"] for r in results),
    }


def check_scores(config_path: Path, expected: dict[str, int]) -> list[str]:
    from sqlalchemy import select

    from bot.config import load_config
    from bot.db import Database
    from bot.models import Attempt

    db = Database(load_config(str(config_path)).database_url)
    problems = []
    with db.reader() as session:
        rows = session.execute(select(Attempt.openid, Attempt.score, Attempt.status, Attempt.current_index)).all()
    db.dispose()
    by_openid = {}
    for openid, score, status, index in rows:
        by_openid.setdefault(openid, []).append((score, status, index))
    for openid, score in expected.items():
        got = by_openid.get(openid, [])
        if len(got) != 1 or got[0] != (score, "finished", QUESTIONS):
            problems.append(f"{openid}: expected one finished attempt with {score}, found {got}")
    return problems


def default_workers(url: str) -> int:
    """The number of workers gunicorn.conf.py starts for this database when BOT_WORKERS is unset."""
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf.default_workers(os.cpu_count() or 1, url)


def run(db_kind: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}" if db_kind == "sqlite" else args.pg_url
        workers = args.workers or default_workers(url)
        config_path = write_config(folder, url)
        prepare_database(config_path)
        log = folder / "gunicorn.log"
        echo_port, bot_port = free_port(), free_port()
        echo = start_gunicorn("bench.echo_app:create_echo_app()", echo_port, workers, args.threads,
                              {"ECHO_TOKEN": TOKEN}, log, args.worker_class)
        try:
            floor = drive(echo_port, args.followers, args.concurrency, 0.0, True, "echo")
        finally:
            stop(echo)
        bot = start_gunicorn("bot:create_app()", bot_port, workers, args.threads, {"BOT_CONFIG": str(config_path)}, log,
                             args.worker_class)
        try:
            quiz = drive(bot_port, args.followers, args.concurrency, args.retry_rate, False, "player")
        finally:
            stop(bot)
        quiz["score_problems"] = check_scores(config_path, quiz["expected"])
        if quiz["errors"] or quiz["score_problems"]:
            print(log.read_text(encoding="utf-8", errors="replace")[-3000:])
        return {"db": db_kind, "workers": workers, "floor": floor, "quiz": quiz}


def worker_class_used(args) -> str:
    """gunicorn runs sync workers with more than one thread as gthread."""
    return "gthread" if args.threads > 1 else args.worker_class


def report(result: dict, args) -> bool:
    floor, quiz = result["floor"], result["quiz"]
    ratio = quiz["rate"] / floor["rate"] if floor["rate"] else 0
    print(f"\n== {result['db']}: {args.followers} followers x {QUESTIONS + 1} turns, {args.concurrency} connections, "
          f"gunicorn {result['workers']} {worker_class_used(args)} workers x {args.threads} threads, "
          f"{os.cpu_count()} cores ==")
    print(f"echo floor : {floor['turns']:6d} turns in {floor['seconds']:6.1f} s = {floor['rate']:7.1f} turns/s, "
          f"p50 {floor['p50']:6.1f} ms, p99 {floor['p99']:6.1f} ms, errors {len(floor['errors'])}")
    print(f"quiz       : {quiz['turns']:6d} turns in {quiz['seconds']:6.1f} s = {quiz['rate']:7.1f} turns/s, "
          f"p50 {quiz['p50']:6.1f} ms, p99 {quiz['p99']:6.1f} ms, errors {len(quiz['errors'])}, "
          f"retries sent {quiz['retries']}")
    print(f"ratio quiz/floor: {ratio:.2f}   scores checked: {len(quiz['expected'])}, "
          f"wrong: {len(quiz['score_problems'])}")
    print(target_line(ratio=ratio, p99_ms=quiz["p99"], errors=len(quiz["errors"]) + len(floor["errors"]),
                      wrong=len(quiz["score_problems"]), concurrency=args.concurrency))
    for line in (quiz["errors"] + quiz["score_problems"])[:10]:
        print("  !", line)
    return not quiz["errors"] and not quiz["score_problems"] and not floor["errors"]


def target_line(*, ratio: float, p99_ms: float, errors: int, wrong: int, concurrency: int) -> str:
    """Say whether a run met the target, and by what it missed."""
    misses = []
    if ratio < TARGET_RATIO:
        misses.append(f"ratio {ratio:.2f} < {TARGET_RATIO:.2f}")
    if p99_ms >= TARGET_P99_MS:
        misses.append(f"p99 {p99_ms:.1f} ms >= {TARGET_P99_MS:.0f} ms")
    if errors:
        misses.append(f"{errors} error(s)")
    if wrong:
        misses.append(f"{wrong} wrong score(s)")
    verdict = "met" if not misses else "missed: " + "; ".join(misses)
    note = "" if concurrency == TARGET_CONCURRENCY else f" (the target is set at {TARGET_CONCURRENCY} connections)"
    return (f"target (quiz >= {TARGET_RATIO:.2f} x floor, p99 < {TARGET_P99_MS:.0f} ms, no errors, scores right): "
            f"{verdict}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("TEST_DATABASE_URL", PG_DEFAULT))
    parser.add_argument("--followers", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0,
                        help="gunicorn workers for both servers (default: gunicorn.conf.py's for the database)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker-class", default="sync", choices=["gthread", "sync"])
    parser.add_argument("--retry-rate", type=float, default=0.05)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    ok = all([report(run(kind, args), args) for kind in kinds])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
