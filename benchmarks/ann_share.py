"""How much of an IVF index a question must probe: recall of exact search per share probed.

    .venv/bin/python benchmarks/scale.py 1000        # once: saves the real vectors it uses
    .venv/bin/python benchmarks/ann_share.py 32000 125000

Builds qa/ann.py's index over n stand-in passage vectors made as benchmarks/scale.py makes
them (the mean of 3-6 real e5 sentence vectors plus noise), asks the 200 real question
vectors one at a time on one thread (as qa/retrieve.py does), and prints per share of lists
probed the share of the exact top 10 found among the candidates returned (the
`ranking.SHIPPED.candidates` that the product re-scores) and the median time per question,
for two codes side by side: what ships (4-bit fast-scan codes re-ranked by 8-bit ones) and
8-bit codes alone (what shipped before). `--real` runs the same over the real sentence
vectors alone.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa import ann  # noqa: E402
from qa.config import cache_dir  # noqa: E402
from qa.ranking import SHIPPED  # noqa: E402

SHARES = (0.2, 0.3, 0.4, 0.5)


def stand_ins(sentences: np.ndarray, n: int, noise: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(0)
    picks, counts = rng.integers(0, len(sentences), (n, 6)), rng.integers(3, 7, n)
    x = np.zeros((n, sentences.shape[1]), np.float32)
    for j in range(6):
        x += sentences[picks[:, j]] * (j < counts)[:, None]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    e = rng.standard_normal(x.shape).astype(np.float32)
    x += noise * e / np.linalg.norm(e, axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def measure(label: str, x: np.ndarray, questions: np.ndarray) -> None:
    k = SHIPPED.candidates
    exact = np.argsort(-(questions @ x.T), axis=1)[:, :10]
    shipped = ann.build(x)
    ann.FAST_SCAN_MIN_ROWS, saved = len(x) + 1, ann.FAST_SCAN_MIN_ROWS
    eight_bit = ann.build(x)
    ann.FAST_SCAN_MIN_ROWS = saved
    lists = faiss.extract_index_ivf(shipped).nlist
    for share in SHARES:
        row = [label, f"{lists}", f"{share:.0%}"]
        for index in (shipped, eight_bit):
            ann.probe(index, share)
            times, kept = [], []
            for q, best in zip(questions, exact, strict=True):
                started = time.perf_counter()
                _, found = ann.search(index, q, k)
                times.append((time.perf_counter() - started) * 1000)
                kept.append(len(set(best) & set(found.tolist())) / 10)
            row += [f"{np.mean(kept):.3f}", f"{statistics.median(times):.2f} ms"]
        print("| " + " | ".join(row) + " |", flush=True)


def main(args: list[str]) -> None:
    with np.load(cache_dir() / "bench" / "scale-sentences.npz") as f:
        sentences, questions = f["vectors"].astype(np.float32), f["question_vectors"]
    faiss.omp_set_num_threads(1)
    print(
        "| vectors | lists | probed | recall@10, shipped | per question | "
        "recall@10, 8-bit codes alone | per question |"
    )
    print("|---|---|---|---|---|---|---|")
    if "--real" in args:
        measure(f"{len(sentences):,} real sentences", sentences, questions)
    for n in (int(a) for a in args if a != "--real"):
        measure(f"{n:,} stand-in passages", stand_ins(sentences, n), questions)


if __name__ == "__main__":
    main(sys.argv[1:] or ["32000"])
