"""Time reading, checking and importing a 10,000-question xlsx against plain openpyxl iteration.

Run from the repository root: python bench/bench_import.py [--count N]
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import load_workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.quiz.banks import import_bank  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from questions.importers import read_bank  # noqa: E402
from questions.model import FILL, JUDGE, MULTIPLE, SINGLE, Question  # noqa: E402
from questions.template import write_bank_xlsx  # noqa: E402
from questions.validators import validate  # noqa: E402


def make_questions(count: int) -> list[Question]:
    """Return `count` distinct questions cycling through the four types."""
    made = []
    for i in range(count):
        stem = f"第{i}题：依照现行专利法，下列关于专利权期限的说法哪一项正确？"
        kind = i % 4
        if kind == 0:
            made.append(Question(SINGLE, stem, ("发明20年", "实用新型15年", "外观设计10年", "都不对"), ("A",),
                                 "专利法第四十二条。", 10, "专利"))
        elif kind == 1:
            made.append(Question(MULTIPLE, stem, ("发明", "实用新型", "外观设计", "商业秘密"), ("A", "B", "C"),
                                 "专利法第二条。", 10, "专利"))
        elif kind == 2:
            made.append(Question(JUDGE, stem, (), (True,), "自申请日起计算。", 10, "专利"))
        else:
            made.append(Question(FILL, stem, (), ("20", "二十"), "二十年。", 10, "专利"))
    return made


def timed(action):
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def floor(path: Path) -> int:
    """Iterate the file's cells with openpyxl read-only and do nothing else."""
    workbook = load_workbook(path, read_only=True, data_only=True)
    cells = sum(len(row) for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True))
    workbook.close()
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bank.xlsx"
        write_bank_xlsx(path, make_questions(args.count))
        size = path.stat().st_size
        _, floor_s = timed(lambda: floor(path))
        report, read_s = timed(lambda: read_bank(path))
        assert report.ok and len(report.questions) == args.count, report.problems[:3]
        _, validate_s = timed(lambda: validate(report.questions, report.places))
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        db.create_all()

        def store():
            with db.session() as session:
                return import_bank(session=session, name="bench", report=report, source=path.name)

        _, import_s = timed(store)
        db.dispose()
    print(f"{args.count} questions, {size / 1024:.0f} KiB xlsx")
    print(f"floor (openpyxl read-only iteration, no parsing): {floor_s:6.3f} s")
    print(f"read_bank (read + parse + validate):              {read_s:6.3f} s  ({read_s / floor_s:.2f}x floor)")
    print(f"  of which validate alone:                        {validate_s:6.3f} s")
    print(f"import_bank into SQLite (bulk insert + commit):   {import_s:6.3f} s")
    total = read_s + import_s
    print(f"total read + validate + import:                   {total:6.3f} s  ({total / floor_s:.2f}x floor)")


if __name__ == "__main__":
    main()
