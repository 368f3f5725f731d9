"""Embed XQuAD (ar, en) paragraphs, sentences and questions once, for the experiments.

Builds the same cached eval indexes `qa eval` uses and saves the question vectors beside
them, so experiment scripts load everything in a second:

    .venv/bin/python benchmarks/xquad_vectors.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.bundled_model import cache_dir  # noqa: E402
from qa.embedder import SentenceTransformerEmbedder  # noqa: E402
from qa.evaluate import build_index, load_squad  # noqa: E402

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def main() -> None:
    embedder = SentenceTransformerEmbedder()
    out = cache_dir() / "eval" / "vectors"
    out.mkdir(parents=True, exist_ok=True)
    for lang in ("ar", "en"):
        started = time.perf_counter()
        data = load_squad(EVAL / f"xquad.{lang}.json")
        index = build_index(
            data, embedder, progress=lambda d, t: print(f"\r{lang} {d}/{t}", end="", flush=True)
        )
        print(
            f"\n{lang}: {len(index.passages)} passages in {time.perf_counter() - started:.0f} s -> {index.directory}"
        )
        q = embedder.embed([x.text for x in data.questions], "query")
        np.save(out / f"questions-{embedder.fingerprint}-{lang}.npy", q)
        print(f"{lang}: {len(q)} questions embedded")


if __name__ == "__main__":
    main()
