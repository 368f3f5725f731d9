"""Approximate nearest neighbours: an inverted-file index for each large segment and language.

The first stage of retrieval takes each language's best candidates by the `main` vectors
(qa/retrieve.py); the exact vectors re-score them afterwards, so the first stage only has to
find them. Exact search is linear in the collection (per language, a million passages are
1.5 GB of float32 to scan per question), so a segment holding `APPROX_MIN_ROWS` or more
passages of one language saves, when it is written, a FAISS IVF index over them with 8-bit
scalar quantization (0.4 KB per passage, in memory and on disk): about sqrt(n) lists, of which
a question scans `NPROBE_SHARE` (at least `NPROBE_MIN`). Smaller segments (the recent
updates) stay exact. Recall@10 of this first stage against exact search, and the search
times, are measured by benchmarks/scale.py (docs/scale.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

# From this many passages of one language in one segment on, that part is searched approximately.
# Below it exact search costs a few milliseconds (docs/scale.md); segments this large only
# come from merges (qa/sync.py `compact`), so an update never waits for an IVF to train.
APPROX_MIN_ROWS = 50_000
NPROBE_SHARE = 0.4  # of the lists, scanned per question: recall@10 >= 0.98 (docs/scale.md)
NPROBE_MIN = 8
TRAIN_PER_LIST = 40  # k-means sample: FAISS asks for at least 39 points per centroid
SEED = 1234  # the same rows give the same index


def wanted(rows: int) -> bool:
    """Whether a segment's `rows` passages of one language get an approximate index."""
    return rows >= APPROX_MIN_ROWS


def build(vectors: np.ndarray) -> faiss.Index:
    """An IVF-SQ8 inner-product index over `vectors` (float16 or float32, unit rows), ids
    0..n-1 in their order."""
    n, dim = vectors.shape
    lists = max(1, round(math.sqrt(n)))
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    sample = np.random.default_rng(SEED).choice(n, min(n, lists * TRAIN_PER_LIST), replace=False)
    index.cp.seed = SEED
    index.cp.niter = 10
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], np.float32))
    for at in range(0, n, 65536):  # float32 a slice at a time
        index.add(np.ascontiguousarray(vectors[at : at + 65536], np.float32))
    return _probing(index)


def to_bytes(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def read(path: Path) -> faiss.Index:
    return _probing(faiss.read_index(str(path)))


def _probing(index: faiss.Index) -> faiss.Index:
    index.nprobe = min(index.nlist, max(NPROBE_MIN, math.ceil(index.nlist * NPROBE_SHARE)))
    return index


def search(
    index: faiss.Index, query: np.ndarray, k: int, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the `k` best of `index` for one query, best first, among the
    positions where the bool mask `keep` is true (all when None); -1 pads a short result."""
    params = None
    if keep is not None:
        bitmap = np.packbits(keep, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(keep), faiss.swig_ptr(bitmap))
        if isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector)
    scores, found = index.search(np.ascontiguousarray(query[None, :], np.float32), k, params=params)
    return scores[0], found[0]
