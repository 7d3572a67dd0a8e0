"""The load bench and the fault drill run end to end (small), so the README's figures come from scripts that work.

They start real gunicorn, scheduler and stand-in processes on a fresh database each. Only what
the scripts check is asserted: no errors, every score right, nothing lost or doubled; never speed.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_load import target_line
from tests.conftest import DATABASES, PG_URL

ROOT = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if PG_URL:
        env["TEST_DATABASE_URL"] = PG_URL
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("db", DATABASES)
def test_the_load_bench_plays_whole_quizzes_and_checks_every_score(db):
    code, out = run_script("bench_load.py", "--db", db, "--followers", "24", "--concurrency", "4")
    assert code == 0, out
    assert f"== {db}: 24 followers x 11 turns, 4 connections" in out
    lines = out.splitlines()
    floor, quiz, mixed = (next(line for line in lines if line.startswith(name)) for name in ("echo floor", "quiz ",
                                                                                              "mixed "))
    assert "turns/s" in floor and floor.endswith("errors 0")
    assert "errors 0, retries sent" in quiz
    assert "errors 0, retries sent" in mixed and "extra messages" in mixed
    if db == "postgresql":
        persisting = next(line for line in lines if line.startswith("persisting floor"))
        assert persisting.endswith("errors 0") and "quiz/persisting floor" in out
    assert "scores checked: 48, wrong: 0" in out
    assert "mixed/quiz" in out
    assert "target (quiz >= 0.60 x " in out


@pytest.mark.parametrize("db", DATABASES)
def test_the_fault_drill_loses_and_doubles_nothing(db):
    code, out = run_script("faults.py", "--db", db, "--followers", "40", "--concurrency", "6")
    assert code == 0, out
    assert "kill -9 scheduler" in out and "kill -9 gunicorn worker" in out
    assert "lost 0, counted twice 0; scores match 40/40 followers" in out
    assert "real sends 1" in out
    assert out.rstrip().endswith("PASS")


def test_the_target_line_names_what_missed():
    assert target_line(db="sqlite", ratio=0.62, p99_ms=91.5, mixed=0.95, errors=0, wrong=0,
                       concurrency=64).endswith(": met")
    missed = target_line(db="sqlite", ratio=0.31, p99_ms=171.7, mixed=0.8, errors=2, wrong=1, concurrency=16)
    assert missed.endswith("missed: ratio 0.31 < 0.60; p99 171.7 ms >= 100 ms; mixed 0.80 < 0.90 x quiz; 2 error(s); "
                           "1 wrong score(s) (the target is set at 64 connections)")
    postgres = target_line(db="postgresql", ratio=0.6, p99_ms=300.0, mixed=None, errors=0, wrong=0, concurrency=64)
    assert "x persisting floor" in postgres and postgres.endswith(": met")


def test_the_attack_drill_refuses_every_attack_of_issue_16():
    code, out = run_script("attacks.py")
    assert code == 0, out
    lines = out.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")], out
    for attack in ("replay: a query string signed five days ago", "safe mode: a plaintext POST",
                   "a database that accepts and never answers", "16 addresses x 5 wrong passwords",
                   "15 wrong passwords at once", "a session cookie copied before logout",
                   "with one 512 MiB shared string", "200 slow clients", "30 new simulator users",
                   "a simulator user with full marks", "every log line of the servers"):
        assert any(line.startswith("PASS  " + attack) or (line.startswith("PASS") and attack in line)
                   for line in lines), attack
    assert lines[-1] == "PASS"
