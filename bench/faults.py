"""Fault drill: kill -9 a web worker and the scheduler under load, then check nothing was lost or doubled.

It starts the WeChat API stand-in, gunicorn and `python -m scheduler` on a fresh database (a SQLite
file, or PostgreSQL), plans a push a few seconds ahead and slows the stand-in's mass send so the
push is still in flight when the scheduler dies. Meanwhile simulated followers play whole quizzes
with signed XML. In the middle a gunicorn worker is killed with SIGKILL twice (gunicorn starts a new
one) and the scheduler is killed with SIGKILL mid-send, then started again. A follower whose request
fails or gets the busy reply sends the same message again (same MsgId), as WeChat and people do.

At the end every answer that got a reply must be stored exactly once, every score must match the
replies, and the stand-in must have made exactly one real mass send of the push.

    python bench/faults.py                                  # SQLite
    python bench/faults.py --db postgresql                  # TEST_DATABASE_URL or the local test database
    python bench/faults.py --db both --followers 400
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_load import (
    PG_DEFAULT,
    QUESTIONS,
    Client,
    answer_book,
    choose,
    content_of,
    default_workers,
    free_port,
    gather,
    prepare_database,
    start_gunicorn,
    stop,
    write_config,
)
from bot.conversation.engine import BUSY_TEXT
from bot.wechat.simulator import text_xml

PUSH_KEY = "lecture-1"
CLIENT_MSG_ID = f"ipweek-{PUSH_KEY}"
SENDALL = "message/mass/sendall"
LEASE_SECONDS = 6
RESENDS = 40  # a follower gives up on a message after this many failed sends
TZ = ZoneInfo("Asia/Shanghai")


def fault_config(folder: Path, url: str, api_base: str, push_at: dt.datetime) -> Path:
    """Write bench_load's config with the stand-in as the API, a short lease and one push."""
    path = write_config(folder, url, api_base_url=api_base)
    text = path.read_text(encoding="utf-8")
    if not text.rstrip().endswith("[scheduler]\nembedded = false"):
        raise SystemExit("bench_load.write_config changed its layout; update fault_config")
    text = text.rstrip() + f"""
lease_seconds = {LEASE_SECONDS}
retry_seconds = 1

[[pushes]]
key = "{PUSH_KEY}"
title = "微讲堂第1期：专利保护入门"
kind = "video"
at = {push_at:%Y-%m-%dT%H:%M:%S}
media_id = "DEMO_VIDEO_MEDIA_1"
"""
    path.write_text(text, encoding="utf-8")
    return path


class StandIn:
    """`python -m bot standin` in its own process, and its control endpoints."""

    def __init__(self, config: Path, port: int, log: Path):
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(config), "standin", "--port",
                                      str(port)], cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.calls()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the stand-in did not start; see {log}") from None
                time.sleep(0.2)

    def _request(self, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def calls(self, path: str | None = None) -> list[dict]:
        return [c for c in self._request("/_standin/calls") if path is None or c["path"] == path]

    def sent(self) -> list[dict]:
        """Mass sends that really went out (a 45065 answer is not one)."""
        return self._request("/_standin/sent")

    def delay(self, path: str, seconds: float) -> None:
        self._request("/_standin/delay", {"path": path, "seconds": seconds})


def start_scheduler(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scheduler", "--config", str(config), "--wait"], cwd=ROOT,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def children(pid: int) -> set[int]:
    """Return the pids whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.add(int(stat.parent.name))
    return found


def push_status(config: Path) -> str:
    from bot.config import load_config
    from bot.storage.db import Database
    from bot.storage.models import PushLog

    db = Database(load_config(str(config)).database_url)
    try:
        with db.reader() as session:
            row = session.get(PushLog, PUSH_KEY)
            return row.status if row is not None else "none"
    finally:
        db.dispose()


def send(client: Client, xml: str, tally: dict) -> str | None:
    """Post until the bot gives a real reply, resending the same message like WeChat; None if it never does."""
    for _ in range(RESENDS):
        before = client.conn
        try:
            status, body, _ = client.post(xml)
        except (OSError, http.client.HTTPException):
            tally["resends"] += 2  # Client.post tried twice on fresh connections
            time.sleep(0.2)
            continue
        if client.conn is not before:
            tally["resends"] += 1  # the first try died with the connection; Client.post sent it again
        if status != 200:
            tally["http_errors"] += 1
            time.sleep(0.2)
            continue
        if content_of(body) == BUSY_TEXT:
            tally["busy"] += 1
            time.sleep(0.5)
            continue
        return body
    return None


def play(port: int, openids: list[str], seed: int, think: float, progress, out) -> None:
    """Play whole quizzes for some followers and record what each reply said."""
    rng = random.Random(seed)
    book = answer_book()
    client = Client(port)
    tally = {"resends": 0, "busy": 0, "http_errors": 0}
    followers, errors = {}, []
    msg_id = seed * 10_000_000
    for openid in openids:
        create_time = int(time.time())
        reply, score, right_count, replied = "", 0, 0, []
        for turn in range(QUESTIONS + 1):
            msg_id += 1
            create_time += 1
            right = rng.random() < 0.75
            try:
                text = "答题" if turn == 0 else choose(reply, book, right)
            except (StopIteration, KeyError, ValueError):
                errors.append(f"{openid} turn {turn}: the reply shows no question: {reply[:120]!r}")
                break
            body = send(client, text_xml(openid, text, create_time, msg_id), tally)
            if body is None:
                errors.append(f"{openid} turn {turn}: no reply after {RESENDS} sends")
                break
            reply = content_of(body)
            replied.append(msg_id)
            if turn:
                graded_right = "回答正确" in reply
                if graded_right != right:
                    errors.append(f"{openid} turn {turn}: sent a {'right' if right else 'wrong'} answer, "
                                  f"the reply graded it otherwise")
                score += 10 if graded_right else 0
                right_count += graded_right
            with progress.get_lock():
                progress.value += 1
            time.sleep(think * rng.uniform(0.5, 1.5))
        else:
            if f"得分：{score}分" not in reply:
                errors.append(f"{openid}: the last reply does not show 得分：{score}分")
        followers[openid] = {"score": score, "right": right_count, "replied": replied}
    out.put({"followers": followers, "errors": errors, **tally})


@dataclass
class Drill:
    """What happened during one run, for the summary."""

    db: str
    workers: int = 0
    events: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    followers: dict = field(default_factory=dict)
    tally: dict = field(default_factory=dict)
    turns: int = 0
    seconds: float = 0.0
    worker_kills: int = 0
    stored_replays: int = 0
    push: dict = field(default_factory=dict)
    checked: dict = field(default_factory=dict)

    def note(self, started: float, text: str) -> None:
        self.events.append(f"t={time.monotonic() - started:5.1f}s  {text}")


def kill_workers(drill: Drill, master: subprocess.Popen, progress, total: int, started: float, args,
                 done: threading.Event) -> None:
    """SIGKILL gunicorn workers at even steps between 20 % and 80 % of the turns; check new ones start."""
    kills = args.worker_kills
    for share in [0.2 + 0.6 * i / max(kills - 1, 1) for i in range(kills)]:
        while progress.value < share * total:
            if done.wait(0.05):
                drill.problems.append(f"the load ended before {share:.0%} of the turns; no worker kill there")
                return
        before = children(master.pid)
        victim = random.choice(sorted(before))
        os.kill(victim, signal.SIGKILL)
        drill.worker_kills += 1
        drill.note(started, f"kill -9 gunicorn worker {victim} at {progress.value}/{total} turns")
        deadline = time.monotonic() + 15
        while True:
            now = children(master.pid)
            if len(now) == drill.workers and victim not in now:
                drill.note(started, f"gunicorn started worker {', '.join(map(str, sorted(now - before)))}")
                break
            if time.monotonic() > deadline:
                drill.problems.append(f"gunicorn did not replace worker {victim} within 15 s")
                break
            time.sleep(0.05)


def kill_scheduler(drill: Drill, holder: dict, standin: StandIn, config: Path, log: Path, started: float) -> None:
    """SIGKILL the scheduler while its mass send is in flight, then start a new one."""
    deadline = time.monotonic() + 60
    while not standin.calls(SENDALL):
        if time.monotonic() > deadline:
            drill.problems.append("the scheduler never called message/mass/sendall")
            return
        time.sleep(0.05)
    time.sleep(0.3)  # inside the stand-in's delay: WeChat has the request, the scheduler has no answer
    first = holder["proc"]
    first.send_signal(signal.SIGKILL)
    first.wait()
    drill.push["status_at_kill"] = push_status(config)
    drill.push["in_flight_at_kill"] = not standin.sent()
    drill.note(started, f"kill -9 scheduler {first.pid} mid-send (push log: {drill.push['status_at_kill']}, "
                        f"stand-in answered: {'no' if drill.push['in_flight_at_kill'] else 'yes'})")
    standin.delay(SENDALL, 0)
    holder["proc"] = start_scheduler(config, log)
    drill.note(started, f"started scheduler {holder['proc'].pid} (--wait: takes over when the lease ends)")


def launch(port: int, args, progress) -> tuple[list, object]:
    """Start the follower processes (before any thread of ours exists, so the fork is clean)."""
    openids = [f"fault-{i:05d}" for i in range(args.followers)]
    shares = [openids[i::args.concurrency] for i in range(args.concurrency)]
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=play, args=(port, share, i + 1, args.think, progress, out))
             for i, share in enumerate(shares) if share]
    for p in procs:
        p.start()
    return procs, out


def collect(procs: list, out) -> list[dict]:
    """Gather every follower process's record; a process that died without one is reported."""
    results, missing = gather(procs, out)
    if missing:
        results.append({"followers": {}, "errors": [f"{missing} follower process(es) died without a record"],
                        "resends": 0, "busy": 0, "http_errors": 0})
    return results


def check_store(config: Path, followers: dict) -> tuple[list[str], dict]:
    """Compare the database with the replies each follower got."""
    from sqlalchemy import func, select

    from bot.config import load_config
    from bot.storage.db import Database
    from bot.storage.models import Attempt, AttemptItem, InboundMessage

    db = Database(load_config(str(config)).database_url)
    with db.reader() as session:
        attempts = session.execute(select(Attempt.openid, Attempt.id, Attempt.status, Attempt.score,
                                          Attempt.correct_count, Attempt.current_index)).all()
        items = dict(session.execute(
            select(AttemptItem.attempt_id, func.count()).where(AttemptItem.answered_at.is_not(None))
            .group_by(AttemptItem.attempt_id)).all())
        points = dict(session.execute(select(AttemptItem.attempt_id, func.sum(AttemptItem.points_awarded))
                                      .group_by(AttemptItem.attempt_id)).all())
        keys = session.execute(select(InboundMessage.openid, InboundMessage.dedupe_key)).all()
    db.dispose()
    by_openid: dict[str, list] = {}
    for row in attempts:
        by_openid.setdefault(row.openid, []).append(row)
    stored: dict[str, list[str]] = {}
    for openid, key in keys:
        stored.setdefault(openid, []).append(key)
    problems = []
    counts = {"answers_replied": 0, "answers_stored": 0, "scores_match": 0, "lost": 0, "doubled": 0}
    for openid, seen in followers.items():
        replied = [f"msg:{openid}:{m}" for m in seen["replied"]]
        counts["answers_replied"] += max(len(replied) - 1, 0)
        mine = by_openid.get(openid, [])
        if len(mine) != 1:
            problems.append(f"{openid}: {len(mine)} attempts stored, expected 1")
            continue
        attempt = mine[0]
        answered = items.get(attempt.id, 0)
        counts["answers_stored"] += answered
        kept = stored.get(openid, [])
        lost = set(replied) - set(kept)
        counts["lost"] += len(lost)
        counts["doubled"] += len(kept) - len(set(kept)) + max(answered - (len(replied) - 1), 0)
        if lost:
            problems.append(f"{openid}: {len(lost)} replied message(s) not stored: {sorted(lost)[:3]}")
        if set(kept) - set(replied):
            problems.append(f"{openid}: stored messages the follower never got a reply to")
        expected = (len(replied) - 1, seen["score"], seen["right"], "finished", QUESTIONS)
        got = (answered, attempt.score, attempt.correct_count, attempt.status, attempt.current_index)
        if got != expected or (points.get(attempt.id) or 0) != attempt.score:
            problems.append(f"{openid}: answered/score/right/status/index {got}, "
                            f"points {points.get(attempt.id)}, expected {expected}")
        else:
            counts["scores_match"] += 1
    return problems, counts


def check_push(drill: Drill, standin: StandIn, config: Path) -> None:
    from bot.config import load_config
    from bot.storage.db import Database
    from bot.storage.models import PushLog

    db = Database(load_config(str(config)).database_url)
    with db.reader() as session:
        row = session.get(PushLog, PUSH_KEY)
    db.dispose()
    real = [s for s in standin.sent() if s["clientmsgid"] == CLIENT_MSG_ID]
    calls = standin.calls(SENDALL)
    drill.push.update(calls=len(calls), real_sends=len(real), status=row.status if row else "none",
                      msg_id=row.msg_id if row else None)
    if calls:
        drill.push["late"] = calls[0]["time"] - drill.push["due"]
    if len(real) != 1:
        drill.problems.append(f"push {PUSH_KEY}: {len(real)} real mass sends, expected exactly 1")
    if drill.push.get("status_at_kill") != "sending" or not drill.push.get("in_flight_at_kill"):
        drill.problems.append("the scheduler kill did not land mid-send")
    if len(calls) < 2:
        drill.problems.append("the restarted scheduler did not resend the interrupted push")
    if row is None or row.status != "sent" or (real and row.msg_id != str(real[0]["msg_id"])):
        drill.problems.append(f"push log: {drill.push['status']} msg_id {drill.push['msg_id']}, "
                              f"expected sent with the stand-in's msg_id")


def run(db_kind: str, args) -> Drill:
    drill = Drill(db=db_kind)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'faults.db'}" if db_kind == "sqlite" else args.pg_url
        drill.workers = args.workers or default_workers(url)
        standin_port, web_port = free_port(), free_port()
        push_at = dt.datetime.now(TZ).replace(tzinfo=None, microsecond=0) + dt.timedelta(seconds=args.push_lead)
        config = fault_config(folder, url, f"http://127.0.0.1:{standin_port}/cgi-bin/", push_at)
        drill.push["due"] = push_at.replace(tzinfo=TZ).timestamp()
        prepare_database(config)
        logs = {name: folder / f"{name}.log" for name in ("standin", "gunicorn", "scheduler")}
        standin = StandIn(config, standin_port, logs["standin"])
        web = holder = None
        try:
            standin.delay(SENDALL, args.send_delay)
            web = start_gunicorn("bot:create_app()", web_port, drill.workers, args.threads,
                                 {"BOT_CONFIG": str(config)}, logs["gunicorn"])
            holder = {"proc": start_scheduler(config, logs["scheduler"])}
            started = time.monotonic()
            drill.note(started, f"gunicorn {web.pid} with workers {sorted(children(web.pid))}, "
                                f"scheduler {holder['proc'].pid}, push due at {push_at:%H:%M:%S} Asia/Shanghai")
            progress = mp.get_context("fork").Value("i", 0)
            total = args.followers * (QUESTIONS + 1)
            done = threading.Event()
            load_started = time.perf_counter()
            procs, out = launch(web_port, args, progress)
            faults = [threading.Thread(target=kill_workers,
                                       args=(drill, web, progress, total, started, args, done)),
                      threading.Thread(target=kill_scheduler,
                                       args=(drill, holder, standin, config, logs["scheduler"], started))]
            for thread in faults:
                thread.start()
            results = collect(procs, out)
            drill.seconds = time.perf_counter() - load_started
            done.set()
            drill.note(started, f"load finished: {progress.value} turns")
            for thread in faults:
                thread.join()
            deadline = time.monotonic() + LEASE_SECONDS + 60
            while push_status(config) != "sent" and time.monotonic() < deadline:
                time.sleep(0.2)
            drill.note(started, f"push log: {push_status(config)}")
            drill.followers = {k: v for r in results for k, v in r["followers"].items()}
            drill.tally = {k: sum(r[k] for r in results) for k in ("resends", "busy", "http_errors")}
            drill.turns = progress.value
            drill.problems += [e for r in results for e in r["errors"]]
            problems, drill.checked = check_store(config, drill.followers)
            drill.problems += problems
            check_push(drill, standin, config)
        finally:
            if holder is not None:
                holder["proc"].send_signal(signal.SIGTERM)
                try:
                    code = holder["proc"].wait(timeout=60)
                except subprocess.TimeoutExpired:
                    holder["proc"].kill()
                    code = holder["proc"].wait()
                if code != 0:
                    drill.problems.append(f"the restarted scheduler exited with {code} on SIGTERM")
            if web is not None:
                stop(web)
            stop(standin.proc)
        gunicorn_log = logs["gunicorn"].read_text(encoding="utf-8", errors="replace")
        drill.stored_replays = gunicorn_log.count(": stored reply")
        if drill.problems:
            for name, path in logs.items():
                print(f"--- {name} log (last lines) ---")
                print("\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-25:]))
    return drill


def report(drill: Drill, args) -> bool:
    c, t, p = drill.checked, drill.tally, drill.push
    print(f"\n== fault drill on {drill.db}: {args.followers} followers x {QUESTIONS + 1} turns, "
          f"{args.concurrency} connections, gunicorn {drill.workers} workers x {args.threads} threads ==")
    for event in drill.events:
        print("  " + event)
    print(f"load     : {drill.turns} turns with a reply in {drill.seconds:.1f} s; sent again after a cut connection "
          f"{t.get('resends', 0)}, after a busy reply {t.get('busy', 0)}, after an HTTP error "
          f"{t.get('http_errors', 0)}")
    print(f"web      : {drill.worker_kills} worker(s) killed; resent messages answered from the stored reply "
          f"(committed before the cut) {drill.stored_replays}")
    print(f"answers  : replied {c.get('answers_replied', 0)}, stored {c.get('answers_stored', 0)}, "
          f"lost {c.get('lost', 0)}, counted twice {c.get('doubled', 0)}; "
          f"scores match {c.get('scores_match', 0)}/{len(drill.followers)} followers")
    late = f"first sendall {p['late']:.1f} s after it was due; " if "late" in p else ""
    print(f"push     : {late}killed while {p.get('status_at_kill', '?')}; sendall calls {p.get('calls', 0)}, "
          f"real sends {p.get('real_sends', 0)}; push log {p.get('status', '?')} msg_id {p.get('msg_id')}")
    for line in drill.problems[:15]:
        print("  ! " + line)
    ok = not drill.problems
    print("PASS" if ok else f"FAIL ({len(drill.problems)} problem(s))")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("TEST_DATABASE_URL", PG_DEFAULT),
                        help="PostgreSQL database to use (its tables are dropped and created)")
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=0,
                        help="gunicorn workers (default: gunicorn.conf.py's for the database)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker-kills", type=int, default=2, help="gunicorn workers to kill -9 during the load")
    parser.add_argument("--think", type=float, default=0.1, help="mean seconds a follower waits between turns")
    parser.add_argument("--push-lead", type=float, default=5.0, help="seconds from start to the push")
    parser.add_argument("--send-delay", type=float, default=3.0, help="seconds the stand-in holds the mass send")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    passed = [report(run(kind, args), args) for kind in kinds]  # every kind runs, even after a failure
    sys.exit(0 if all(passed) else 1)


if __name__ == "__main__":
    main()
