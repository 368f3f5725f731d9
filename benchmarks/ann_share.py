"""How much of an IVF index a question must probe: recall of exact search per share probed.

    .venv/bin/python benchmarks/scale.py 1000        # once: saves the real vectors it uses
    .venv/bin/python benchmarks/ann_share.py 32000 250000

Builds qa/ann.py's index (IVF, 8-bit codes, sqrt(n) lists) over n stand-in passage vectors made
as benchmarks/scale.py makes them (the mean of 3-6 real e5 sentence vectors plus noise), asks
the 200 real question vectors, and prints per share of lists probed the share of the exact top
10 found in the top 200 returned (the candidates the product re-scores) and the time per
question. `--real` runs the same over the real sentence vectors alone.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa import ann  # noqa: E402
from qa.config import cache_dir  # noqa: E402

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
    exact = np.argsort(-(questions @ x.T), axis=1)[:, :10]
    index = ann.build(x)
    for share in SHARES:
        index.nprobe = max(1, round(index.nlist * share))
        started = time.perf_counter()
        _, found = index.search(questions, 200)
        ms = (time.perf_counter() - started) / len(questions) * 1000
        kept = np.mean([len(set(e) & set(f)) / 10 for e, f in zip(exact, found, strict=True)])
        print(f"| {label} | {index.nlist} | {share:.0%} | {kept:.3f} | {ms:.2f} ms |")


def main(args: list[str]) -> None:
    with np.load(cache_dir() / "bench" / "scale-sentences.npz") as f:
        sentences, questions = f["vectors"].astype(np.float32), f["question_vectors"]
    print("| vectors | lists | probed | exact top 10 in the top 200 | per question |")
    print("|---|---|---|---|---|")
    if "--real" in args:
        measure(f"{len(sentences):,} real sentences", sentences, questions)
    for n in (int(a) for a in args if a != "--real"):
        measure(f"{n:,} stand-in passages", stand_ins(sentences, n), questions)


if __name__ == "__main__":
    main(sys.argv[1:] or ["32000"])
