"""Embed what benchmarks/reader_questions.py reads, once: the slow step, run it first.

ARCD-train's paragraph index (the one `qa eval data/eval/arcd-train.json` keeps), the questions
of ARCD-train, XQuAD (both languages) and tests/data/unanswerable.json and the background
sentences (qa/data/background.json, as questions) by every encoder, and every passage of the
three sets as read with its title (`Passage.embed_text(True)`), all cached under the cache
folder by benchmarks/common.py:

    .venv/bin/python benchmarks/reader_vectors.py
"""

from __future__ import annotations

import sys
import time

import common
import reader_questions as rq


def main() -> None:
    embedder = common.embedder()
    for name in rq.SETS:
        started = time.perf_counter()
        index = rq.set_index(name)
        seconds = time.perf_counter() - started
        print(f"{name}: {len(index.passages)} passages ({seconds:.0f} s)", file=sys.stderr)
    for encoder in embedder.encoders:
        for name, questions in (
            ("arcd", rq.dataset("arcd").questions),
            ("xquad.ar", common.xquad("ar").questions),
            ("xquad.en", common.xquad("en").questions),
            ("unanswerable", common.unanswerable()),
        ):
            started = time.perf_counter()
            common.question_vectors(questions, encoder.key)
            seconds = time.perf_counter() - started
            print(
                f"{name}: {len(questions)} questions by {encoder.key} ({seconds:.0f} s)",
                file=sys.stderr,
            )
    for encoder in embedder.encoders:
        for lang in ("ar", "en"):
            rq.background(lang, encoder.key)
    print("background sentences embedded as questions", file=sys.stderr)
    for name in rq.SETS:
        for encoder in embedder.encoders:
            started = time.perf_counter()
            rq.titled_passages(name, encoder.key)
            seconds = time.perf_counter() - started
            print(f"{name}: titled passages by {encoder.key} ({seconds:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
