"""Where WhooshBackend._run spends its time, and what a single-pass variant would save (generated corpus).

Usage: python bench/search_variants.py [--docs N] [--queries N] [--seed S]
Builds the generated corpus of bench/search_bench.py (cached JSONL), then times over the same unique queries:
  current   WhooshBackend.search (docs() pass for total and facets, then a scored search, highlights)
  docs()    only the unscored docs() pass + department facets
  scored    only searcher.search(limit=10, terms=False) (no exact total)
  1-pass    one scored search with groupedby=department (exact total = len(results), facets from groups())
  1-pass+hl the same plus the backend's highlights for the page
and checks that the single pass gives the same totals and facets as the current code.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_bench import fmt_lat, generated_corpus, make_queries  # noqa: E402
from whoosh import highlight, sorting  # noqa: E402

from portal.search import SearchQuery  # noqa: E402
from portal.search.analysis import query_terms  # noqa: E402
from portal.search.whoosh_backend import SNIPPET_CHARS, WhooshBackend, _MarkFormatter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="search-variants-"))
    try:
        docs = generated_corpus(args.docs, args.seed)
        backend = WhooshBackend(str(work))
        backend.rebuild(docs)
        queries = make_queries(docs, args.queries + 5, args.seed)[5:]
        searcher, _ = backend._searcher()
        reader = searcher.reader()
        column = reader.column_reader("department")
        facet = sorting.FieldFacet("department")
        times: dict[str, list[float]] = {k: [] for k in ("current", "docs()", "scored", "1-pass", "1-pass+hl")}
        differ = 0
        for text in queries:
            backend._cache.clear()
            t = time.perf_counter()
            current = backend.search(SearchQuery(text))
            times["current"].append((time.perf_counter() - t) * 1000)
            terms = query_terms(text)
            if not current.matched_all_words:
                continue  # the fallback path: not compared
            q = backend._word_query(terms, all_words=True)
            t = time.perf_counter()
            docnums = list(q.docs(searcher))
            Counter(column[d] for d in docnums)
            times["docs()"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            results = searcher.search(q, limit=10, terms=False)
            results[0:10]
            times["scored"].append((time.perf_counter() - t) * 1000)
            for hl in (False, True):
                t = time.perf_counter()
                results = searcher.search(q, limit=10, terms=False, groupedby=facet)
                total = len(results)
                facets = {k: len(v) for k, v in results.groups("department").items() if k != "-"}
                page = results[0:10]
                if hl:
                    results.fragmenter = highlight.ContextFragmenter(maxchars=SNIPPET_CHARS, surround=40)
                    results.formatter = _MarkFormatter()
                [backend._hit(h, hl) for h in page]
                times["1-pass+hl" if hl else "1-pass"].append((time.perf_counter() - t) * 1000)
            differ += total != current.total or facets != current.facets
        print(f"{args.docs:,} generated documents, {len(queries)} unique queries (times in ms)")
        for name, values in times.items():
            print(f"  {name:10} {fmt_lat(values)}")
        print(f"  single pass: totals/facets differing from the current code: {differ}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
