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
    floor, quiz = (next(line for line in out.splitlines() if line.startswith(name)) for name in ("echo floor", "quiz"))
    assert "turns/s" in floor and floor.endswith("errors 0")
    assert "errors 0, retries sent" in quiz
    assert "scores checked: 24, wrong: 0" in out
    assert "target (quiz >= 0.50 x floor, p99 < 100 ms, no errors, scores right): " in out


@pytest.mark.parametrize("db", DATABASES)
def test_the_fault_drill_loses_and_doubles_nothing(db):
    code, out = run_script("faults.py", "--db", db, "--followers", "40", "--concurrency", "6")
    assert code == 0, out
    assert "kill -9 scheduler" in out and "kill -9 gunicorn worker" in out
    assert "lost 0, counted twice 0; scores match 40/40 followers" in out
    assert "real sends 1" in out
    assert out.rstrip().endswith("PASS")


def test_the_target_line_names_what_missed():
    assert target_line(ratio=0.52, p99_ms=91.5, errors=0, wrong=0, concurrency=64).endswith(": met")
    missed = target_line(ratio=0.31, p99_ms=171.7, errors=2, wrong=1, concurrency=16)
    assert missed.endswith("missed: ratio 0.31 < 0.50; p99 171.7 ms >= 100 ms; 2 error(s); 1 wrong score(s) "
                           "(the target is set at 64 connections)")
    assert target_line(ratio=0.5, p99_ms=100.0, errors=0, wrong=0, concurrency=64).endswith(
        "missed: p99 100.0 ms >= 100 ms")
