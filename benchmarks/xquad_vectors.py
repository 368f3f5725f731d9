"""Embed everything the experiment scripts read, once: the slow step, run it first.

Builds the XQuAD indexes `qa eval` uses (ar, en; every encoder) and embeds the questions of
both languages and of tests/data/unanswerable.json with every encoder, and the background
sentences (as passages and as queries) with the main one, all cached under the cache folder
by benchmarks/common.py, so the other scripts load them in seconds:

    .venv/bin/python benchmarks/xquad_vectors.py
"""

from __future__ import annotations

import sys
import time

import common


def main() -> None:
    embedder = common.embedder()
    for lang in ("ar", "en"):
        started = time.perf_counter()
        index = common.xquad_index(lang)
        print(
            f"\n{lang}: {len(index.passages)} passages in {time.perf_counter() - started:.0f} s"
            f" -> {index.directory}",
            file=sys.stderr,
        )
    for encoder in embedder.encoders:
        for name, questions in (
            ("xquad.ar", common.xquad("ar").questions),
            ("xquad.en", common.xquad("en").questions),
            ("unanswerable", common.unanswerable()),
        ):
            started = time.perf_counter()
            common.question_vectors(questions, encoder.key)
            print(
                f"{name}: {len(questions)} questions by {encoder.key}"
                f" in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
    for kind in ("passage", "query"):
        common.background(kind)
    print("background sentences embedded", file=sys.stderr)


if __name__ == "__main__":
    main()
