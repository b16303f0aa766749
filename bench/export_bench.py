"""Spreadsheet and text-door benchmark: portal.sheets and portal.text against plain baselines in the same run.

Usage: python bench/export_bench.py [--rows N]   (default 20000 ledger-shaped rows)
Prints rows/s for the typed, defused CSV and XLSX writers of portal/sheets.py beside the writers they replaced
(csv.writer and an openpyxl write-only sheet of plain text cells), and texts/s for the text door (clean +
visible_length) on the real corpus beside the old control-character regex. Figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from portal import sheets, text  # noqa: E402
from portal.services.desk.ledger import COLUMNS, HEADERS  # noqa: E402

OLD_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def ledger_rows(count: int) -> list[list]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(count):
        received = start + timedelta(minutes=17 * i)
        published = received + timedelta(hours=3, minutes=i % 60)
        title = f"城关镇解放路第{i}号路灯不亮请尽快维修" if i % 50 else '=HYPERLINK("http://x.example/","详情")'
        rows.append([f"2026{i:09d}", title, "求助", "县交通运输局", "", "已答复", received, received, published,
                     published, received + timedelta(hours=8), "是", round((published - received).seconds / 3600, 1),
                     "满意", "", ""])
    return rows


def timed(label: str, count: int, unit: str, work) -> float:
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    print(f"  {label:<44} {count / elapsed:>12,.0f} {unit}/s  ({elapsed:.2f} s)")
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    rows = ledger_rows(args.rows)
    print(f"ledger exports, {args.rows} rows")

    def old_csv() -> None:
        writer = csv.writer(io.StringIO())
        writer.writerow(HEADERS)
        writer.writerows(sheets.text_row(COLUMNS, r) for r in rows)  # the old writer formatted each row too

    def old_xlsx() -> None:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("台账")
        sheet.append(list(HEADERS))
        for row in rows:
            sheet.append(sheets.text_row(COLUMNS, row))
        workbook.save(io.BytesIO())

    base_csv = timed("baseline csv.writer, text cells", args.rows, "rows", old_csv)
    new_csv = timed("portal.sheets CSV (defusedcsv, formatted)", args.rows, "rows",
                    lambda: sheets.write_csv(io.StringIO(), COLUMNS, rows))
    base_xlsx = timed("baseline openpyxl write-only, text cells", args.rows, "rows", old_xlsx)
    new_xlsx = timed("portal.sheets XLSX (typed, styled, filtered)", args.rows, "rows",
                     lambda: sheets.write_xlsx(io.BytesIO(), "台账", COLUMNS, rows))
    print(f"  ratio CSV {new_csv / base_csv:.2f}x, XLSX {new_xlsx / base_xlsx:.2f}x of the baseline")

    corpus_texts = _corpus_texts()
    if not corpus_texts:
        print("text door: corpus not found, skipped")
        return
    print(f"text door, {len(corpus_texts)} titles and bodies from the real corpus (x20)")
    texts = corpus_texts * 20
    base = timed("baseline old control-character regex", len(texts), "texts",
                 lambda: [OLD_CONTROL.sub("", t) for t in texts])
    door = timed("portal.text clean + is_blank (forms, import)", len(texts), "texts",
                 lambda: [text.is_blank(text.clean(t)) for t in texts])
    full = timed("portal.text clean + visible_length", len(texts), "texts",
                 lambda: [text.visible_length(text.clean(t)) for t in texts])
    print(f"  ratio {door / base:.2f}x and {full / base:.2f}x of the baseline")


def _corpus_texts() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        out = Path(tmp) / "corpus.jsonl"
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "corpus_to_jsonl.py"), "--output", str(out)],
                              capture_output=True)
        if done.returncode != 0 or not out.exists():
            return []
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [t for r in rows for t in (r.get("title", ""), r.get("body", "")) if t]


if __name__ == "__main__":
    main()
