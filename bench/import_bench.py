"""Import benchmark: the real corpus through `import_lines`, against a bare executemany baseline.

Usage: python bench/import_bench.py [--database-url URL]   (default: a temporary SQLite file)
Prints rows/s for the portal's importer (validation, Markdown rendering, numbering, batches) and for a
plain sqlite3 executemany of the same rows into a one-table database, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="import-bench-"))
    jsonl = tmp / "corpus.jsonl"
    subprocess.run([sys.executable, str(ROOT / "bench" / "corpus_to_jsonl.py"), "--output", str(jsonl)],
                   check=True, capture_output=True)
    lines = jsonl.read_text(encoding="utf-8").splitlines()

    # Baseline: the same rows, parsed and inserted with executemany into one SQLite table.
    base_db = sqlite3.connect(tmp / "baseline.db")
    base_db.execute("PRAGMA journal_mode=WAL")
    base_db.execute("CREATE TABLE q (external_id TEXT UNIQUE, title TEXT, body TEXT, asked_at TEXT, reply TEXT)")
    started = time.perf_counter()
    rows = [json.loads(line) for line in lines]
    base_db.executemany(
        "INSERT INTO q VALUES (?, ?, ?, ?, ?)",
        [(r["external_id"], r["title"], r["body"], r["asked_at"], r["reply"]) for r in rows],
    )
    base_db.commit()
    baseline = time.perf_counter() - started

    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.services.board.importer import import_lines
    from portal.services.clock import DueRule

    url = args.database_url or f"sqlite:///{tmp / 'portal.db'}"
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        started = time.perf_counter()
        first = import_lines(db.session, lines, DueRule())
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        second = import_lines(db.session, lines, DueRule())
        again = time.perf_counter() - started
    print(f"database: {url.split(':', 1)[0]}")
    print(f"rows: {len(lines)}")
    print(f"portal import: {first.imported} imported in {elapsed:.2f} s = {first.imported / elapsed:,.0f} rows/s")
    print(f"second run (idempotent): {second.imported} imported, {second.skipped} skipped in {again:.2f} s")
    print(f"baseline executemany: {baseline:.3f} s = {len(lines) / baseline:,.0f} rows/s")
    print(f"ratio portal/baseline time: {elapsed / baseline:.1f}x")


if __name__ == "__main__":
    main()
