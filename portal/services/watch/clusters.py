"""Near-duplicate stories (转载) across platforms: MinHash over character bigrams, datasketch's LSH to find them."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from portal.services.watch.textclean import fold

NUM_PERM = 64
SHINGLE = 2  # bigrams: reposts reword Chinese text more than trigrams forgive
TEXT_CHARS = 1500  # the opening of a post says what it is; long bodies add cost, not precision
_PRIME = np.uint64((1 << 31) - 1)
_rng = np.random.RandomState(20250512)  # fixed: signatures are stored, so they must be stable across runs
_A = _rng.randint(1, (1 << 31) - 1, size=NUM_PERM).astype(np.uint64)
_B = _rng.randint(0, (1 << 31) - 1, size=NUM_PERM).astype(np.uint64)
# Punctuation, symbols and white space: reposts change them freely.
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_REPOST_MARKS = re.compile(r"【?(转载|转发|转自[^】）)]*)】?|网友反映[：:]|（转自[^）]*）|_[^_]{2,8}论坛$")


def shingle_text(title: str, text: str) -> str:
    """The text a signature is made of: title and the opening of the body, folded, marks and punctuation out."""
    head = _NOISE.sub("", _REPOST_MARKS.sub("", fold(title.removesuffix("..."))))
    body = _NOISE.sub("", fold(text[:TEXT_CHARS]))
    # Microblog titles are the opening of the text: counting it twice would hide the repost.
    return body if head and head[:20] in body else head + body


def signature(title: str, text: str) -> np.ndarray:
    """A MinHash signature (NUM_PERM uint32 values) of the item's character bigrams."""
    folded = shingle_text(title, text)
    if len(folded) < SHINGLE:
        folded = folded.ljust(SHINGLE, "_")
    codes = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    grams = (codes[:-1] * np.uint64(1000003) + codes[1:]) % _PRIME
    grams = np.unique(grams)
    values = (_A[:, None] * grams[None, :] + _B[:, None]) % _PRIME
    return values.min(axis=1).astype(np.uint32)


def to_bytes(sig: np.ndarray) -> bytes:
    return sig.astype("<u4").tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<u4")


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


class ClusterIndex:
    """Signatures of recent items by item id, with their cluster; finds the cluster a new item belongs to.

    The signatures are rows of one matrix, so a query compares all its LSH candidates in one numpy operation.
    A cluster is whatever the caller keeps (an id, or a cluster not flushed yet).
    """

    def __init__(self, threshold: float):
        self.threshold = threshold
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self.rows: dict[int, int] = {}
        self.matrix = np.empty((1024, NUM_PERM), dtype=np.uint32)
        self.cluster_of: dict[int, object] = {}

    def _keep(self, item_id: int, sig: np.ndarray, cluster) -> LeanMinHash:
        row = self.rows.get(item_id)
        if row is None:
            row = len(self.rows)
            if row == len(self.matrix):
                self.matrix = np.concatenate([self.matrix, np.empty_like(self.matrix)])
            self.rows[item_id] = row
        self.matrix[row] = sig
        self.cluster_of[item_id] = cluster
        return LeanMinHash(seed=1, hashvalues=sig.astype(np.uint64), scheme="legacy")

    def add(self, item_id: int, sig: np.ndarray, cluster) -> None:
        """Index an item (already clustered, or about to be)."""
        self.lsh.insert(item_id, self._keep(item_id, sig, cluster))

    def add_many(self, rows: Iterable[tuple[int, bytes, object]]) -> None:
        """Index stored items: (item id, signature bytes, cluster id)."""
        with self.lsh.insertion_session() as session:
            for item_id, raw, cluster_id in rows:
                session.insert(item_id, self._keep(item_id, from_bytes(raw), cluster_id))

    def nearest(self, sig: np.ndarray) -> tuple[int | None, float]:
        """The most similar indexed item at or above the threshold, and its similarity."""
        candidates = self.lsh.query(LeanMinHash(seed=1, hashvalues=sig.astype(np.uint64), scheme="legacy"))
        if not candidates:
            return None, 0.0
        rows = np.fromiter((self.rows[c] for c in candidates), dtype=np.int64, count=len(candidates))
        equal = np.count_nonzero(self.matrix[rows] == sig, axis=1)
        best = int(np.argmax(equal))
        sim = float(equal[best]) / NUM_PERM
        if sim < self.threshold:
            return None, 0.0
        return candidates[best], sim
