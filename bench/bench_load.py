"""Load benchmark: simulated followers play whole quizzes against the real server under gunicorn.

It starts gunicorn on the bot (SQLite file or PostgreSQL) and, in the same run, gunicorn on a
bare Flask + wechatpy echo handler (the floor) and, on PostgreSQL, the same echo handler that
also inserts each message into the database with one statement (the persisting floor). It drives
each with the same client (signed XML over keep-alive HTTP, WeChat-style retries mixed in),
then plays the quiz again with mixed traffic (about --mix of the messages are keywords, 排名,
活动安排, registration details and unrecognised text), checks every stored score against what
the client expected and prints turns/s, p50/p99 latency, errors and the ratios.

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

from bot.wechat.simulator import sign, text_xml  # noqa: E402

TOKEN = "benchtoken"
QUESTIONS = 10
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# The targets, at 64 concurrent connections: the quiz against the bare floor on SQLite and the
# persisting floor on PostgreSQL, p99 on SQLite, and mixed traffic within 10% of pure quiz traffic.
TARGET_RATIO, TARGET_P99_MS, TARGET_MIXED, TARGET_CONCURRENCY = 0.6, 100.0, 0.9, 64
# What mixed traffic sends besides answers: keywords mid-quiz (they are answered before any answer is read;
# a reply word such as 12330 is not, since a fill-in question may take it as the answer),
# then, after the quiz, registration details or unrecognised text.
MID_QUIZ = ("帮助", "排名", "活动安排", "微讲堂")
PASS_SCORE = 100


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
pass_score = {PASS_SCORE}
[[replies]]
id = "hotline"
words = ["12330"]
text = "知识产权维权援助热线：12330"
[scheduler]
embedded = false
""", encoding="utf-8")
    return path


def prepare_database(config_path: Path) -> None:
    """Start from an empty database with the sample bank."""
    from sqlalchemy import text

    from bot.quiz.banks import ensure_sample_bank
    from bot.config import load_config
    from bot.storage.db import Database
    from bot.storage.models import Base

    config = load_config(str(config_path))
    db = Database(config.database_url)
    if db.is_sqlite:
        for suffix in ("", "-wal", "-shm"):
            Path(db.engine.url.database + suffix).unlink(missing_ok=True)
    else:
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
        nonce = str(random.randrange(10**15))  # a signed (timestamp, nonce) pair brings one message only
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


def play_worker(port: int, openids: list[str], retry_rate: float, echo: bool, seed: int, mix: float,
                out: mp.Queue) -> None:
    """Play whole quizzes (or, for the floor, the same number of echo turns) for some followers."""
    try:
        out.put(play(port, openids, retry_rate, echo, seed, mix))
    except BaseException as exc:  # noqa: BLE001 - a client that breaks is an error in the report, not a hang
        out.put({"latencies": [], "errors": [f"client {seed} stopped: {exc!r}"], "expected": {}, "retries": 0,
                 "extras": 0})


def _extra(client: Client, openid: str, text: str, create_time: int, msg_id: int, latencies: list,
           errors: list) -> None:
    """Send one message of mixed traffic; it must be answered, and never with the busy reply."""
    try:
        status, body, elapsed = client.post(text_xml(openid, text, create_time, msg_id))
    except Exception as exc:  # noqa: BLE001 - count every failure as an error
        errors.append(f"{openid} extra {text!r}: {exc!r}")
        return
    latencies.append(elapsed)
    if status != 200 or not content_of(body) or "系统繁忙" in body:
        errors.append(f"{openid} extra {text!r}: HTTP {status} {content_of(body)[:40]!r}")


def play(port: int, openids: list[str], retry_rate: float, echo: bool, seed: int, mix: float = 0.0) -> dict:
    rng = random.Random(seed)
    book = {} if echo else answer_book()
    client = Client(port)
    latencies, errors, expected, retries, extras = [], [], {}, 0, 0
    msg_id = seed * 10_000_000
    # One message after the quiz, and keywords mid-quiz at the rate that makes `mix` of all messages extra.
    mid_quiz = max(0.0, (QUESTIONS + 1) * mix / (1 - mix) - 1) / (QUESTIONS + 1) if mix else 0.0
    for openid in openids:
        create_time = int(time.time())
        reply, score = "", 0
        for turn in range(QUESTIONS + 1):
            msg_id += 1
            create_time += 1
            if turn and rng.random() < mid_quiz:
                _extra(client, openid, rng.choice(MID_QUIZ), create_time, msg_id, latencies, errors)
                extras += 1
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
        if mix:
            phone = 13800000000 + zlib.crc32(openid.encode()) % 100_000_000
            after = f"张三 {phone}" if score >= PASS_SCORE or rng.random() < 0.5 else "谢谢，辛苦了"
            _extra(client, openid, after, create_time + 1, msg_id + 1, latencies, errors)
            extras += 1
            msg_id += 1
    return {"latencies": latencies, "errors": errors, "expected": expected, "retries": retries, "extras": extras}


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


def drive(port: int, followers: int, concurrency: int, retry_rate: float, echo: bool, prefix: str,
          mix: float = 0.0) -> dict:
    openids = [f"{prefix}-{i:05d}" for i in range(followers)]
    shares = [openids[i::concurrency] for i in range(concurrency)]
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    # Processes, not threads, so the client does not serialise on one GIL.
    procs = [ctx.Process(target=play_worker, args=(port, share, retry_rate, echo, i + 1, mix, out))
             for i, share in enumerate(shares) if share]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results, missing = gather(procs, out)
    if missing:
        results.append({"latencies": [], "errors": [f"{missing} client process(es) died without a report"],
                        "expected": {}, "retries": 0, "extras": 0})
    elapsed = time.perf_counter() - started
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "turns": len(latencies), "seconds": elapsed, "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000 if latencies else 0,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0,
        "errors": [e for r in results for e in r["errors"]],
        "expected": {k: v for r in results for k, v in r["expected"].items()},
        "retries": sum(r["retries"] for r in results),
        "extras": sum(r.get("extras", 0) for r in results),
    }


def check_scores(config_path: Path, expected: dict[str, int]) -> list[str]:
    from sqlalchemy import select

    from bot.config import load_config
    from bot.storage.db import Database
    from bot.storage.models import Attempt

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
        log = folder / "gunicorn.log"
        prepare_database(config_path)
        floors = {"echo floor": {"ECHO_TOKEN": TOKEN}}
        if db_kind == "postgresql":
            floors["persisting floor"] = {"ECHO_TOKEN": TOKEN, "ECHO_DATABASE_URL": url}
        measured = {}
        for name, env in floors.items():
            echo_port = free_port()
            echo = start_gunicorn("bench.echo_app:create_echo_app()", echo_port, workers, args.threads, env, log,
                                  args.worker_class)
            try:
                measured[name] = drive(echo_port, args.followers, args.concurrency, 0.0, True, name.split()[0])
            finally:
                stop(echo)
        for name, mix in (("quiz", 0.0), ("mixed", args.mix)):
            if name == "mixed" and not mix:
                continue
            prepare_database(config_path)
            bot_port = free_port()
            bot = start_gunicorn("bot:create_app()", bot_port, workers, args.threads, {"BOT_CONFIG": str(config_path)},
                                 log, args.worker_class)
            try:
                measured[name] = drive(bot_port, args.followers, args.concurrency, args.retry_rate, False,
                                       "player", mix)
            finally:
                stop(bot)
            measured[name]["score_problems"] = check_scores(config_path, measured[name]["expected"])
            if measured[name]["errors"] or measured[name]["score_problems"]:
                print(log.read_text(encoding="utf-8", errors="replace")[-3000:])
        return {"db": db_kind, "workers": workers, **measured}


def worker_class_used(args) -> str:
    """gunicorn runs sync workers with more than one thread as gthread."""
    return "gthread" if args.threads > 1 else args.worker_class


def _line(name: str, run: dict) -> str:
    extra = ""
    if name in ("quiz", "mixed"):
        extra = f", retries sent {run['retries']}" + (f", extra messages {run['extras']}" if run["extras"] else "")
    return (f"{name:17s}: {run['turns']:6d} turns in {run['seconds']:6.1f} s = {run['rate']:7.1f} turns/s, "
            f"p50 {run['p50']:6.1f} ms, p99 {run['p99']:6.1f} ms, errors {len(run['errors'])}{extra}")


def report(result: dict, args) -> bool:
    quiz, floor = result["quiz"], result["echo floor"]
    persisting = result.get("persisting floor")
    mixed = result.get("mixed")
    print(f"\n== {result['db']}: {args.followers} followers x {QUESTIONS + 1} turns, {args.concurrency} connections, "
          f"gunicorn {result['workers']} {worker_class_used(args)} workers x {args.threads} threads, "
          f"{os.cpu_count()} cores ==")
    for name in ("echo floor", "persisting floor", "quiz", "mixed"):
        if name in result:
            print(_line(name, result[name]))
    ratio = quiz["rate"] / floor["rate"] if floor["rate"] else 0
    ratios = [f"quiz/floor {ratio:.2f}"]
    persisting_ratio = quiz["rate"] / persisting["rate"] if persisting and persisting["rate"] else None
    if persisting_ratio is not None:
        ratios.append(f"quiz/persisting floor {persisting_ratio:.2f}")
    mixed_ratio = mixed["rate"] / quiz["rate"] if mixed and quiz["rate"] else None
    if mixed_ratio is not None:
        share = mixed["extras"] / mixed["turns"] if mixed["turns"] else 0
        ratios.append(f"mixed/quiz {mixed_ratio:.2f} ({share:.0%} of mixed messages not answers)")
    runs = [r for r in (floor, persisting, quiz, mixed) if r]
    checked = [r for r in (quiz, mixed) if r]
    print("ratios: " + ", ".join(ratios) + f"   scores checked: {sum(len(r['expected']) for r in checked)}, "
          f"wrong: {sum(len(r['score_problems']) for r in checked)}")
    print(target_line(db=result["db"], ratio=persisting_ratio if persisting_ratio is not None else ratio,
                      p99_ms=quiz["p99"], mixed=mixed_ratio, errors=sum(len(r["errors"]) for r in runs),
                      wrong=sum(len(r["score_problems"]) for r in checked), concurrency=args.concurrency))
    for line in [e for r in checked for e in r["errors"] + r["score_problems"]][:10]:
        print("  !", line)
    return not any(r["errors"] for r in runs) and not any(r["score_problems"] for r in checked)


def target_line(*, db: str, ratio: float, p99_ms: float, mixed: float | None, errors: int, wrong: int,
                concurrency: int) -> str:
    """Say whether a run met the target for its database, and by what it missed."""
    floor = "persisting floor" if db == "postgresql" else "floor"
    misses = []
    if ratio < TARGET_RATIO:
        misses.append(f"ratio {ratio:.2f} < {TARGET_RATIO:.2f}")
    if db == "sqlite" and p99_ms >= TARGET_P99_MS:
        misses.append(f"p99 {p99_ms:.1f} ms >= {TARGET_P99_MS:.0f} ms")
    if mixed is not None and mixed < TARGET_MIXED:
        misses.append(f"mixed {mixed:.2f} < {TARGET_MIXED:.2f} x quiz")
    if errors:
        misses.append(f"{errors} error(s)")
    if wrong:
        misses.append(f"{wrong} wrong score(s)")
    verdict = "met" if not misses else "missed: " + "; ".join(misses)
    note = "" if concurrency == TARGET_CONCURRENCY else f" (the target is set at {TARGET_CONCURRENCY} connections)"
    p99 = f", p99 < {TARGET_P99_MS:.0f} ms" if db == "sqlite" else ""
    return (f"target (quiz >= {TARGET_RATIO:.2f} x {floor}{p99}, mixed >= {TARGET_MIXED:.2f} x quiz, no errors, "
            f"scores right): {verdict}{note}")


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
    parser.add_argument("--mix", type=float, default=0.15,
                        help="share of messages in the mixed run that are not answers (0: no mixed run)")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    ok = all([report(run(kind, args), args) for kind in kinds])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
