"""Embedding throughput of `qa index` with the real models, at one thread and at all cores.

    .venv/bin/python benchmarks/embed_rate.py [passages] [rounds]

Embeds XQuAD Arabic and English paragraphs (as `qa index` cuts and embeds them: each passage and
each of its sentences, by e5 and by USE) through `qa.sync.embed_passages`, alternating the
thread settings round by round, and prints the median passages/s of each. On a machine with a
CUDA GPU, torch uses it (fp16) and the thread count matters only for USE and tokenizing.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(count: int = 40, rounds: int = 3) -> None:
    import os

    import torch

    from qa.config import Config
    from qa.embedder import load_embedder
    from qa.evaluate import _article, load_squad
    from qa.index import Settings
    from qa.sync import cut_articles, embed_passages

    embedder = load_embedder(Config())
    settings = Settings(max_tokens=embedder.max_tokens)
    articles = {}
    for lang in ("ar", "en"):
        data = load_squad(ROOT / "data" / "eval" / f"xquad.{lang}.json")
        for pid, (title, context) in list(data.paragraphs.items())[: count // 2]:
            articles[f"{lang}-{pid}"] = _article(f"{lang}-{pid}", title, context)
    _, passages = cut_articles(articles, embedder, settings)
    embed_passages(passages[:4], embedder, settings)  # warm up
    cores = os.cpu_count() or 1
    rates: dict[int, list[float]] = {1: [], cores: []}
    for _ in range(rounds):
        for threads in rates:
            torch.set_num_threads(threads)
            started = time.perf_counter()
            embed_passages(passages, embedder, settings)
            rates[threads].append(len(passages) / (time.perf_counter() - started))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"{len(passages)} passages, device {device}, medians of {rounds} alternating rounds")
    for threads, values in rates.items():
        print(f"  {threads} thread(s): {statistics.median(values):.2f} passages/s")
    one, many = (statistics.median(v) for v in rates.values())
    print(f"  all cores / one: {many / one:.2f}x")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
