"""Embedding throughput of `qa index` with the real models: batching, threads, sentence vectors.

    .venv/bin/python benchmarks/embed_rate.py [passages] [rounds]

Embeds XQuAD Arabic and English paragraphs the way `qa index` cuts and embeds them (each
passage and each of its sentences, by e5 and by USE) through `qa.embedding.embed_passages`, in
five set-ups alternated round by round (so a noisy machine slows them alike), and prints the
median passages/s of each:
  before      batches of 32 texts, one at a time on every core, then USE (as before
              token-budget batching);
  in turn     today's batches (about `batch_tokens` tokens each), one at a time on every core,
              then USE (as at a2fb02e);
  1 thread    today's batches, one at a time on one torch thread, then USE;
  all cores   what `qa index` does: `workers` batches at once on one torch thread each, USE
              beside e5;
  late        all cores, sentence vectors pooled from the passage's pass (Settings.sentences).
On a machine with a CUDA GPU, torch uses it (fp16) and the thread count matters only for USE
and tokenizing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class InTurn:
    """Stands in for the pool that runs USE beside e5 in `embed_passages`: runs it first."""

    def __init__(self, _workers: int) -> None:
        pass

    def __enter__(self) -> InTurn:
        return self

    def __exit__(self, *_) -> None:
        pass

    def submit(self, work, *args) -> Future:
        done: Future = Future()
        done.set_result(work(*args))
        return done


def main(count: int = 40, rounds: int = 3) -> None:
    import torch

    import qa.embedding
    from qa.config import Config
    from qa.embedder import load_embedder
    from qa.embedding import embed_passages
    from qa.evaluate import _article, load_squad
    from qa.index import Settings
    from qa.sync import cut_articles

    embedder = load_embedder(Config())
    e5 = embedder.main
    settings = Settings(max_tokens=embedder.max_tokens)
    late = Settings(max_tokens=embedder.max_tokens, sentences="late")
    articles = {}
    for lang in ("ar", "en"):
        data = load_squad(ROOT / "data" / "eval" / f"xquad.{lang}.json")
        for pid, (title, context) in list(data.paragraphs.items())[: count // 2]:
            articles[f"{lang}-{pid}"] = _article(f"{lang}-{pid}", title, context)
    _, passages = cut_articles(articles, embedder, settings)
    embed_passages(passages[:4], embedder, settings)  # warm up
    cores = os.cpu_count() or 1
    today = e5._batches

    def thirty_two(texts, kind):  # the batches of before: longest first, 32 at a time
        order = [i for batch in today(texts, kind) for i in batch]
        return [order[at : at + 32] for at in range(0, len(order), 32)]

    # (torch threads, e5 workers, batching, USE beside e5, EMBED_BATCH, settings)
    setups = {
        "before (batches of 32, in turn)": (cores, 1, thirty_two, False, 64, settings),
        "token batches, in turn": (cores, 1, today, False, 64, settings),
        "1 thread, in turn": (1, 1, today, False, 512, settings),
        f"all cores ({cores}): workers, USE beside": (cores, cores, today, True, 512, settings),
        "late sentences, all cores": (cores, cores, today, True, 512, late),
    }
    rates: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(rounds):
        for name, (threads, workers, batches, beside, texts, how) in setups.items():
            torch.set_num_threads(threads)
            e5.workers, e5._batches, qa.embedding.EMBED_BATCH = workers, batches, texts
            qa.embedding.ThreadPoolExecutor = ThreadPoolExecutor if beside else InTurn
            started = time.perf_counter()
            embed_passages(passages, embedder, how)
            rates[name].append(len(passages) / (time.perf_counter() - started))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"{len(passages)} passages, device {device}, medians of {rounds} alternating rounds")
    print("| set-up | passages/s | vs before |")
    print("|---|---|---|")
    first = statistics.median(next(iter(rates.values())))
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"| {name} | {rate:.2f} | {rate / first:.2f}x |")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
