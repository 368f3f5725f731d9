"""Approximate nearest neighbours: an inverted-file index for each large segment and language.

The first stage of retrieval takes each language's best candidates by the `main` vectors
(qa/retrieve.py); the exact vectors re-score them afterwards, so the first stage only has to
find them. Exact search is linear in the collection (per language, a million passages are
0.75 GB of float16 to scan per question), so a segment holding `APPROX_MIN_ROWS` or more
passages of one language saves, when it is written, a FAISS inverted file over them: about
sqrt(n) lists, of which a question scans `NPROBE_SHARE` (at least `NPROBE_MIN`). Within the
lists the passages are read as 4-bit product-quantized codes with FAISS's SIMD "fast scan",
and the `REFINE_FACTOR` x k best of those are re-ranked by 8-bit codes (0.5 KB per passage in
all, in memory and on disk). Smaller segments (the recent updates) stay exact. Recall@10 of
this first stage against exact search, and the search times, are measured by
benchmarks/ann_share.py and benchmarks/scale.py (docs/scale.md).
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
# 8-bit codes re-rank this many times k of the 4-bit codes' best: 4-bit codes alone find 0.32
# of the exact top 10 among 100 (e5's vectors differ in small components); re-ranking 30 x 100
# of them finds as many as 8-bit codes alone, at half the time (benchmarks/ann_share.py).
REFINE_FACTOR = 30
FAST_SCAN_MIN_ROWS = 1000
TRAIN_PER_LIST = 40  # k-means sample: FAISS asks for at least 39 points per centroid
SEED = 1234  # the same rows give the same index


def wanted(rows: int) -> bool:
    """Whether a segment's `rows` passages of one language get an approximate index."""
    return rows >= APPROX_MIN_ROWS


def build(vectors: np.ndarray) -> faiss.Index:
    """An inverted file over `vectors` (float16 or float32, unit rows), ids 0..n-1 in their
    order: 4-bit fast-scan codes, re-ranked by 8-bit codes, inner product."""
    n, dim = vectors.shape
    lists = max(1, round(math.sqrt(n)))
    pieces = dim // 2 if dim % 2 == 0 else dim  # two dimensions per 4-bit code
    # 4-bit codebooks are trained on the sample (16 centroids each); a smaller segment (only
    # when a test or benchmark lowers APPROX_MIN_ROWS) scans its 8-bit codes directly.
    codes = f"PQ{pieces}x4fs,Refine(SQ8)" if n >= FAST_SCAN_MIN_ROWS else "SQ8"
    index = faiss.index_factory(dim, f"IVF{lists},{codes}", faiss.METRIC_INNER_PRODUCT)
    sample = np.random.default_rng(SEED).choice(n, min(n, lists * TRAIN_PER_LIST), replace=False)
    clustering = faiss.extract_index_ivf(index).cp
    clustering.seed, clustering.niter = SEED, 10
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], np.float32))
    for at in range(0, n, 65536):  # float32 a slice at a time
        index.add(np.ascontiguousarray(vectors[at : at + 65536], np.float32))
    return _probing(index)


def to_bytes(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def read(path: Path) -> faiss.Index:
    return _probing(faiss.read_index(str(path)))


def probe(index: faiss.Index, share: float) -> None:
    """Scan `share` of `index`'s lists per question (at least `NPROBE_MIN`)."""
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = min(ivf.nlist, max(NPROBE_MIN, math.ceil(ivf.nlist * share)))


def _probing(index: faiss.Index) -> faiss.Index:
    probe(index, NPROBE_SHARE)
    if isinstance(index, faiss.IndexRefine):
        index.k_factor = REFINE_FACTOR
    return index  # an IVF-SQ8 index (saved before the refinement) is read as it is


def probed(index: faiss.Index) -> int:
    return faiss.extract_index_ivf(index).nprobe


def approximate(index: faiss.Index) -> bool:
    """Whether `index` is one of this module's (not an exact one)."""
    return isinstance(index, faiss.IndexRefine | faiss.IndexIVF)


class Subset:
    """Which positions of an index a search may return, as FAISS reads them: a bitmap that
    can be made once and kept (the live rows of a segment) or per question (a filter)."""

    def __init__(self, keep: np.ndarray) -> None:
        self.size = len(keep)
        self.bitmap = np.packbits(keep, bitorder="little")
        self.selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(self.bitmap))


def search(
    index: faiss.Index, query: np.ndarray, k: int, subset: Subset | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, positions) of the `k` best of `index` for one query, best first, among the
    positions in `subset` (all when None); -1 pads a short result."""
    params = None
    if subset is not None:
        if isinstance(index, faiss.IndexRefine):
            ivf = faiss.SearchParametersIVF(sel=subset.selector, nprobe=probed(index))
            params = faiss.IndexRefineSearchParameters(
                k_factor=index.k_factor, base_index_params=ivf
            )
        elif isinstance(index, faiss.IndexIVF):
            params = faiss.SearchParametersIVF(sel=subset.selector, nprobe=index.nprobe)
        else:
            params = faiss.SearchParameters(sel=subset.selector)
    scores, found = index.search(np.ascontiguousarray(query[None, :], np.float32), k, params=params)
    return scores[0], found[0]
