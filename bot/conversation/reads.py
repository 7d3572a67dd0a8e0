"""Reading the facts of a turn on the driver connection, outside any transaction.

The base facts (stored reply, follower, rate window, active attempt with its current and next
item) are one statement, so they are one consistent snapshot; the facts a decision asks for
later are one small indexed query each.
"""
from __future__ import annotations

import datetime as dt
import functools

from scheduler.lectures import lectures_text

from bot.conversation.facts import AttemptFacts, Best, Facts, FollowerFacts, ItemFacts, Missing, RateWindow, Rank
from bot.conversation.message import Inbound
from bot.quiz import bank_pool
from bot.quiz.leaderboard import leaderboard_params, leaderboard_sql
from bot.quiz.rules import ENDED, SIMULATOR_PREFIX, STANDING, StandingKey
from bot.storage import counters
from bot.storage.driver_sql import DriverConnection, Statement

_BASE = Statement("""
    SELECT m.reply, m.create_time,
           f.openid, f.state, f.name, f.phone, f.last_message_at, f.subscribed,
           r.value, r.expires_at,
           s.id, s.current_index, s.total_questions, s.last_activity_at, s.last_answer_create_time, s.score,
           s.correct_count, s.max_score, s.started_at, s.position, s.snapshot, s.option_order
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN inbound_messages m ON m.dedupe_key = :key
    LEFT JOIN followers f ON f.openid = :openid
    LEFT JOIN kv_store r ON r.key = :rate_key
    LEFT JOIN (SELECT a.id, a.current_index, a.total_questions, a.last_activity_at, a.last_answer_create_time,
                      a.score, a.correct_count, a.max_score, a.started_at, i.position, i.snapshot, i.option_order
               FROM attempts a JOIN attempt_items i ON i.attempt_id = a.id
               WHERE a.openid = :openid AND a.status = 'active'
                 AND i.position BETWEEN a.current_index AND a.current_index + 1) AS s ON 1 = 1
""")
_USED = Statement("""
    SELECT count(*), coalesce(sum(CASE WHEN local_day = :today THEN 1 ELSE 0 END), 0)
    FROM attempts WHERE openid = :openid
""")
_ENDED_SQL = ", ".join(f"'{status}'" for status in ENDED)
_BEST = Statement(f"""
    SELECT b.id, b.score, b.duration_seconds, b.finished_at,
           (SELECT count(*) FROM attempts WHERE openid = :openid AND status IN ({_ENDED_SQL}))
    FROM (SELECT 1 AS one) AS one
    LEFT JOIN attempts b ON b.openid = :openid AND b.best = :yes
""")
_SEEN = Statement("""
    SELECT i.question_id FROM attempt_items i JOIN attempts a ON a.id = i.attempt_id WHERE a.openid = :openid
""")
_BANK = Statement("SELECT id, version, imported_at FROM banks WHERE name = :bank")
_DETAILS = Statement("SELECT unit, district, id_number, address FROM registrations WHERE openid = :openid")
_PRIZE = Statement("""
    SELECT tier FROM final_winners
    WHERE openid = :openid AND draw_id = (SELECT max(id) FROM final_draws)
""")


def _ahead_sql() -> str:
    """An attempt stands above the key when it wins on the first field of STANDING that differs."""
    terms = []
    for i, (name, direction) in enumerate(STANDING):
        equal = [f"{earlier} = :{earlier}" for earlier, _ in STANDING[:i]]
        terms.append("(" + " AND ".join([*equal, f"{name} {'>' if direction == 'desc' else '<'} :{name}"]) + ")")
    return "best = :yes AND (" + " OR ".join(terms) + ")"


@functools.lru_cache(maxsize=8)
def _rank_statement(testers: int) -> Statement:
    """Players ahead and players in all, without test accounts (rules.is_test_account): the `testers`
    listed (:tester_0, :tester_1, ...) and simulator users (:sim_prefix)."""
    test = f"substr(openid, 1, {len(SIMULATOR_PREFIX)}) = :sim_prefix"
    if testers:
        test = "(openid IN (" + ", ".join(f":tester_{i}" for i in range(testers)) + f") OR {test})"
    ahead = f"(SELECT count(*) FROM attempts WHERE {_ahead_sql()})"
    ahead += f" - (SELECT count(*) FROM attempts WHERE {test} AND {_ahead_sql()})"
    players = "(SELECT count(*) FROM attempts WHERE best = :yes)"
    players += f" - (SELECT count(*) FROM attempts WHERE {test} AND best = :yes)"
    return Statement(f"SELECT {ahead}, {players}")


@functools.lru_cache(maxsize=8)
def _leaderboard_statement(testers: int) -> Statement:
    return Statement(leaderboard_sql(testers))


def read_base(conn: DriverConnection, inbound: Inbound) -> Facts:
    """Read what every turn uses, in one statement."""
    rows = conn.rows(_BASE, {"key": inbound.dedupe_key, "openid": inbound.openid,
                             "rate_key": counters.rate_key(inbound.openid)})
    first = rows[0]
    follower = None
    if first[2] is not None:
        follower = FollowerFacts(openid=first[2], state=first[3], name=first[4], phone=first[5],
                                 last_message_at=conn.read_time(first[6]), subscribed=bool(first[7]))
    rate = None
    if first[8] is not None and first[9] is not None:
        rate = RateWindow(count=int(first[8]), expires_at=conn.read_time(first[9]))
    attempt, items = None, []
    if first[10] is not None:
        attempt = AttemptFacts(id=first[10], current_index=first[11], total_questions=first[12],
                               last_activity_at=conn.read_time(first[13]), last_answer_create_time=first[14],
                               score=first[15], correct_count=first[16], max_score=first[17],
                               started_at=conn.read_time(first[18]))
        items = sorted((ItemFacts(position=r[19], snapshot=conn.read_json(r[20]), option_order=conn.read_json(r[21]))
                        for r in rows), key=lambda item: item.position)
    return Facts(stored_reply=first[0], stored_create_time=first[1], follower=follower, attempt=attempt,
                 items=tuple(items), rate=rate)


def read_missing(conn: DriverConnection, runtime, inbound: Inbound, facts: Facts, missing: Missing, *,
                 local_today: dt.date, now: dt.datetime) -> None:
    """Read the facts a decision asked for into `facts`."""
    _read(conn, runtime, inbound, facts, missing.fact, missing.arg, local_today=local_today, now=now)
    for fact in missing.more:
        _read(conn, runtime, inbound, facts, fact, None, local_today=local_today, now=now)


def _read(conn: DriverConnection, runtime, inbound: Inbound, facts: Facts, fact: str, arg, *,
          local_today: dt.date, now: dt.datetime) -> None:
    openid = inbound.openid
    if fact == "used":
        total, today = conn.rows(_USED, {"openid": openid, "today": conn.stored_date(local_today)})[0]
        facts.loaded["used"] = (int(total), int(today))
    elif fact == "best":
        row = conn.rows(_BEST, {"openid": openid, "yes": True})[0]
        facts.loaded["best"] = None if row[0] is None else Best(
            key=StandingKey(score=row[1], duration_seconds=row[2], finished_at=conn.read_time(row[3]), id=row[0]),
            ended=int(row[4]))
    elif fact == "rank":
        key: StandingKey = arg
        testers = runtime.config.quiz.testers
        params = {"yes": True, "score": key.score, "duration_seconds": key.duration_seconds,
                  "finished_at": conn.stored_time(key.finished_at), "id": key.id,
                  "sim_prefix": SIMULATOR_PREFIX, **{f"tester_{i}": t for i, t in enumerate(testers)}}
        ahead, players = conn.rows(_rank_statement(len(testers)), params)[0]
        facts.loaded[("rank", key)] = Rank(ahead=int(ahead), players=int(players))
    elif fact == "seen":
        facts.loaded["seen"] = frozenset(row[0] for row in conn.rows(_SEEN, {"openid": openid}))
    elif fact == "pool":
        facts.loaded["pool"] = _pool(conn, runtime)
    elif fact == "details":
        rows = conn.rows(_DETAILS, {"openid": openid})
        facts.loaded["details"] = ({k: v for k, v in zip(("unit", "district", "id_number", "address"), rows[0]) if v}
                                   if rows else {})
    elif fact == "top":
        testers = runtime.config.quiz.testers
        facts.loaded["top"] = conn.rows(_leaderboard_statement(len(testers)), leaderboard_params(testers))
    elif fact == "prize":
        rows = conn.rows(_PRIZE, {"openid": openid})
        facts.loaded["prize"] = rows[0][0] if rows else None
    elif fact == "lectures":
        with runtime.db.reader() as session:
            facts.loaded["lectures"] = lectures_text(session=session, config=runtime.config, now=now)
    else:
        raise ValueError(f"unknown fact {fact!r}")


def _pool(conn: DriverConnection, runtime):
    """The quiz bank's pool: the one cached in this process while the bank is unchanged, else read anew."""
    name = runtime.config.quiz.bank
    rows = conn.rows(_BANK, {"bank": name})
    if not rows:
        return None
    bank_id, version, imported_at = rows[0]
    cached = bank_pool.cached_pool(database_url=runtime.db.url, name=name)
    if cached is not None and bank_pool.is_current(cached, bank_id, version, conn.read_time(imported_at)):
        return cached
    with runtime.db.reader() as session:
        return bank_pool.active_pool(session=session, database_url=runtime.db.url, name=name)
