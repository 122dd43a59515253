"""Exact and near-duplicate detection for files and functions.

Exact: a hash of a normalized form (callers choose it: normalized text for files, the AST for functions).
Near: MinHash over 5-gram shingles of code tokens (comments dropped), 128 hash functions, banded LSH
(16 bands x 8 rows) to find candidate pairs, then the estimated Jaccard similarity (the fraction of equal
MinHash values) must reach the threshold. Clusters are joined transitively (union-find) and the member that
comes first in the caller's priority order survives. Everything is numpy-vectorized and deterministic.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

SHINGLE = 5
NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
THRESHOLD = 0.85
MAX_GROUP_ALL_PAIRS = 24

_TOKEN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+|\S")
_COMMENT_RE = re.compile(r"""("(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')|#[^\n]*""")
_M = np.uint64(0xFFFFFFFFFFFFFFFF)


def strip_comments(text: str) -> str:
    return _COMMENT_RE.sub(lambda m: m.group(1) or "", text)


class TokenIds:
    """Token string -> small integer, assigned in first-seen order (deterministic for a fixed input order)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, text: str) -> np.ndarray:
        ids = self.ids
        out = []
        for t in _TOKEN_RE.findall(strip_comments(text)):
            i = ids.get(t)
            if i is None:
                i = ids[t] = len(ids) + 1
            out.append(i)
        return np.asarray(out, dtype=np.uint64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def _shingles(docs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(doc index, shingle hash) of every distinct 5-gram of every document, sorted by document."""
    lens = np.array([len(d) for d in docs], dtype=np.int64)
    if lens.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    toks = np.concatenate([d for d in docs if len(d)]).astype(np.uint64)
    doc = np.repeat(np.arange(len(docs), dtype=np.int64), lens)
    n = len(toks)
    with np.errstate(over="ignore"):
        if n >= SHINGLE:
            h = np.zeros(n - SHINGLE + 1, dtype=np.uint64)
            for k in range(SHINGLE):
                h = _mix(h ^ toks[k : n - SHINGLE + 1 + k] + np.uint64(k))
            ok = doc[: n - SHINGLE + 1] == doc[SHINGLE - 1 :]
            sh_doc, sh = doc[: n - SHINGLE + 1][ok], h[ok]
        else:
            sh_doc, sh = np.zeros(0, np.int64), np.zeros(0, np.uint64)
        # Documents shorter than one shingle get a single shingle of all their tokens.
        short = np.nonzero((lens > 0) & (lens < SHINGLE))[0]
        if len(short):
            starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
            extra = []
            for i in short:
                v = np.uint64(0)
                for t in toks[starts[i] : starts[i] + lens[i]]:
                    v = _mix(np.array([v ^ t]))[0]
                extra.append(v)
            sh_doc = np.concatenate([sh_doc, short])
            sh = np.concatenate([sh, np.array(extra, dtype=np.uint64)])
    order = np.lexsort((sh, sh_doc))
    sh_doc, sh = sh_doc[order], sh[order]
    keep = np.ones(len(sh), dtype=bool)
    keep[1:] = (sh_doc[1:] != sh_doc[:-1]) | (sh[1:] != sh[:-1])
    return sh_doc[keep], sh[keep]


def signatures(docs: list[np.ndarray], seed: int = 0, chunk: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (N, NUM_PERM) and a mask of documents that have any shingle."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=NUM_PERM, dtype=np.uint64)
    sh_doc, sh = _shingles(docs)
    sig = np.full((len(docs), NUM_PERM), _M, dtype=np.uint64)
    has = np.zeros(len(docs), dtype=bool)
    has[sh_doc] = True
    mixed = _mix(sh)
    i = 0
    while i < len(sh):
        j = min(len(sh), i + chunk)
        # extend to a document boundary so each reduceat segment is a whole document
        if j < len(sh):
            j = int(np.searchsorted(sh_doc, sh_doc[j - 1], side="right"))
        with np.errstate(over="ignore"):
            vals = _mix(mixed[i:j, None] * a[None, :] + b[None, :])
        seg_doc = sh_doc[i:j]
        starts = np.concatenate([[0], np.nonzero(seg_doc[1:] != seg_doc[:-1])[0] + 1])
        mins = np.minimum.reduceat(vals, starts, axis=0)
        sig[seg_doc[starts]] = np.minimum(sig[seg_doc[starts]], mins)
        i = j
    return sig, has


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:  # the smaller index (higher priority) stays the root
            if ry < rx:
                rx, ry = ry, rx
            self.parent[ry] = rx


def near_duplicates(docs: list[np.ndarray], threshold: float = THRESHOLD, seed: int = 0) -> tuple[np.ndarray, int]:
    """Mask of documents to keep (first of each near-duplicate cluster, in list order) and the pair count."""
    n = len(docs)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep, 0
    sig, has = signatures(docs, seed=seed)
    idx = np.nonzero(has)[0]
    uf = _UnionFind(n)
    seen: set[tuple[int, int]] = set()
    pairs = 0
    for band in range(BANDS):
        block = sig[idx, band * ROWS : (band + 1) * ROWS]
        key = np.zeros(len(idx), dtype=np.uint64)
        for r in range(ROWS):
            key = _mix(key ^ block[:, r])
        order = np.argsort(key, kind="stable")
        sk = key[order]
        bounds = np.nonzero(sk[1:] != sk[:-1])[0] + 1
        for grp in np.split(order, bounds):
            if len(grp) < 2:
                continue
            members = sorted(int(idx[g]) for g in grp)
            if len(members) <= MAX_GROUP_ALL_PAIRS:
                cands = [(members[x], members[y]) for x in range(len(members)) for y in range(x + 1, len(members))]
            else:
                cands = [(members[0], m) for m in members[1:]] + list(zip(members[1:], members[2:]))
            for p in cands:
                if p in seen:
                    continue
                seen.add(p)
                if float(np.mean(sig[p[0]] == sig[p[1]])) >= threshold:
                    pairs += 1
                    uf.union(*p)
    for i in range(n):
        if uf.find(i) != i:
            keep[i] = False
    return keep, pairs


def exact_duplicates(keys: list[str]) -> np.ndarray:
    """Mask keeping the first occurrence of each key."""
    seen: set[str] = set()
    keep = np.ones(len(keys), dtype=bool)
    for i, k in enumerate(keys):
        if k in seen:
            keep[i] = False
        else:
            seen.add(k)
    return keep


def normalized_file_key(text: str) -> str:
    """Exact-duplicate key of a file: text with comments, trailing whitespace and blank lines removed."""
    lines = [ln.rstrip() for ln in strip_comments(text).split("\n")]
    return hashlib.sha256("\n".join(ln for ln in lines if ln).encode("utf-8")).hexdigest()
