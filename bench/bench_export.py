"""Time and peak memory of `export results` for 100,000 players against plain openpyxl write-only writing.

Run from the repository root: python bench/bench_export.py [--count N]

Each side runs in its own process so that its peak RSS (VmHWM) is its own:
- export: `python -m bot export results` on a SQLite database of N players (a follower and one
  best finished attempt each), streamed from the database;
- floor: openpyxl write-only writing the same N rows of the 参与者成绩 sheet (same 12 columns and
  value types) from a generator, with no database, no styles and no other sheets.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 10_000
START = dt.datetime(2027, 4, 20, 2, 0)

CONFIG = """
[wechat]
app_id = "wx2c2769f8efd9abc2"
app_secret = "bench"
token = "bench"

[database]
url = "sqlite:///{db}"

[activity]
name = "知识产权宣传周（基准测试）"
timezone = "Asia/Shanghai"
start = 2027-04-20T00:00:00
end = 2027-04-26T23:59:59

[quiz]
pass_score = 80
"""


def player(i: int) -> dict:
    """Return the fields of player i, spread over scores, times and the week."""
    started = START + dt.timedelta(seconds=i * 5)
    duration = 60 + (i * 37) % 1500
    return {"openid": f"o{i:09d}bench{i % 97:02d}", "name": "张三" if i % 3 else "欧阳修",
            "phone": f"138{i:08d}", "score": (i * 7) % 11 * 10, "duration": duration, "started": started,
            "finished": started + dt.timedelta(seconds=duration)}


def build(db_path: Path, count: int) -> None:
    """Create the database and bulk-insert `count` followers with one best finished attempt each."""
    from sqlalchemy import insert

    from bot.storage.db import Database
    from bot.storage.models import Attempt, Bank, Follower

    db = Database(f"sqlite:///{db_path}")
    db.create_all()
    with db.session() as session:
        bank_id = session.execute(insert(Bank).values(name="default", source="bench").returning(Bank.id)).scalar()
    for low in range(0, count, BATCH):
        people = [player(i) for i in range(low, min(low + BATCH, count))]
        with db.session() as session:
            session.execute(insert(Follower), [
                {"openid": p["openid"], "first_seen_at": p["started"], "subscribed": True,
                 "subscribed_at": p["started"], "name": p["name"], "phone": p["phone"],
                 "contact_at": p["finished"]} for p in people])
            session.execute(insert(Attempt), [
                {"openid": p["openid"], "bank_id": bank_id, "status": "finished", "started_at": p["started"],
                 "local_day": (p["started"] + dt.timedelta(hours=8)).date(), "last_activity_at": p["finished"],
                 "finished_at": p["finished"], "total_questions": 10, "current_index": 10, "score": p["score"],
                 "max_score": 100, "correct_count": p["score"] // 10, "duration_seconds": p["duration"],
                 "best": True} for p in people])
    db.dispose()


def run_export(config: Path, out: Path) -> None:
    from click.testing import CliRunner

    from bot.commands.cli import CliState
    from exports.cli import export

    result = CliRunner().invoke(export, ["results", str(out)], obj=CliState(str(config)))
    if result.exit_code != 0:
        raise SystemExit(result.output)


def run_floor(count: int, out: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("参与者成绩")
    ws.append(["名次", "姓名", "手机号", "得分", "满分", "答对题数", "题数", "用时", "交卷时间", "交卷方式", "是否合格",
               "openid"])
    for i in range(count):
        p = player(i)
        ws.append([i + 1, p["name"], p["phone"], p["score"], 100, p["score"] // 10, 10,
                   dt.timedelta(seconds=p["duration"]), p["finished"] + dt.timedelta(hours=8), "完成",
                   "是" if p["score"] >= 80 else "否", p["openid"]])
    workbook.save(out)


def child(args: argparse.Namespace) -> None:
    """Do one side's work in this process and print its time and peak RSS as JSON."""
    if args.side == "export":
        import bot.commands.cli  # noqa: F401 - count the imports in the baseline, not in the work
        import exports.cli  # noqa: F401
    else:
        import openpyxl  # noqa: F401
    baseline_kb = proc_status_kb("VmRSS")
    before = time.perf_counter()
    if args.side == "export":
        run_export(Path(args.config), Path(args.out))
    else:
        run_floor(args.count, Path(args.out))
    seconds = time.perf_counter() - before
    peak_kb = proc_status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "baseline_mb": baseline_kb / 1024,
                      "bytes": Path(args.out).stat().st_size}))


def proc_status_kb(field: str) -> int:
    """Return a memory figure of this process in KiB from /proc (0 where there is no /proc).

    Linux keeps ru_maxrss across exec, so a child would report its parent's peak; VmHWM is the
    process's own high-water mark.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure(side: str, *extra: str) -> dict:
    output = subprocess.run([sys.executable, __file__, "--side", side, *extra], check=True, capture_output=True,
                            text=True, cwd=ROOT).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="players (default 100,000)")
    parser.add_argument("--side", choices=("export", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_path = folder / "bench.db"
        config = folder / "config.toml"
        config.write_text(CONFIG.format(db=db_path.as_posix()), encoding="utf-8")
        before = time.perf_counter()
        build(db_path, args.count)
        print(f"database: {args.count:,} players built in {time.perf_counter() - before:.1f} s")
        export = measure("export", "--config", str(config), "--out", str(folder / "export.xlsx"))
        floor = measure("floor", "--count", str(args.count), "--out", str(folder / "floor.xlsx"))
    print(f"{'':28}{'time':>10}{'peak RSS':>12}{'after imports':>15}{'growth':>10}{'file':>10}")
    for label, m in ((f"export results ({args.count:,})", export), ("floor: openpyxl write-only", floor)):
        m["growth_mb"] = m["peak_mb"] - m["baseline_mb"]
        print(f"{label:28}{m['seconds']:>9.2f}s{m['peak_mb']:>9.0f} MB{m['baseline_mb']:>12.0f} MB"
              f"{m['growth_mb']:>7.0f} MB{m['bytes'] / 1e6:>7.1f} MB")
    print(f"{'ratio (export / floor)':28}{export['seconds'] / floor['seconds']:>9.2f}x"
          f"{export['peak_mb'] / floor['peak_mb']:>10.2f}x{'':>15}"
          f"{export['growth_mb'] / max(floor['growth_mb'], 1):>9.2f}x")


if __name__ == "__main__":
    main()
