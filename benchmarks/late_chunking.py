"""Sentence vectors pooled from the passage's pass ("late") against each sentence embedded on
its own ("separate"): `qa eval`'s rows with each, and the embedding rate of each.

    .venv/bin/python benchmarks/late_chunking.py

Builds every eval set twice through `qa.evaluate.build_index` (cached per setting under the
cache folder, so a second run only asks) and asks every question through `evaluate`, the path
of `qa eval`. Rows: XQuAD ar→ar, en→ar, en→en, the mixed collection (same and other
language), ARCD-train (all, and its test split, articles 39-76), unanswerable (refusals).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import make_mixed  # noqa: E402

from qa.evaluate import Question, build_index, evaluate, load_squad  # noqa: E402
from qa.index import Settings  # noqa: E402
from qa.retrieve import Retriever  # noqa: E402


def mixed_files(folder: Path) -> tuple[Path, Path]:
    """benchmarks/make_mixed.py's two files."""
    paths = folder / "mixed.json", folder / "mixed.cross.json"
    make_mixed.write(*paths)
    return paths


def arcd_test(questions: list[Question]) -> list[Question]:
    return [q for q in questions if common.article_of(q.paragraph) >= 39]


def main() -> None:
    embedder = common.embedder()
    folder = Path(tempfile.mkdtemp())
    mixed, mixed_cross = mixed_files(folder)
    xar, xen = common.xquad_path("ar"), common.xquad_path("en")
    arcd = common.EVAL / "arcd-train.json"
    unanswerable = Path(__file__).resolve().parent.parent / "tests/data/unanswerable.json"
    rows = [
        ("ar→ar", xar, None, None),
        ("en→ar", xar, xen, None),
        ("en→en", xen, None, None),
        ("mixed, same", mixed, None, None),
        ("mixed, other", mixed, mixed_cross, None),
        ("ARCD-train", arcd, None, None),
        ("ARCD-train test", arcd, None, arcd_test),
        ("unanswerable → ar", xar, unanswerable, None),
        ("unanswerable → en", xen, unanswerable, None),
    ]
    print("| row | sentences | R@1 | R@5 | MRR@10 | refused | build s |")
    print("|---|---|---|---|---|---|---|")
    for label, dataset, questions_from, only in rows:
        data = load_squad(dataset, questions_from)
        questions = only(list(data.questions)) if only else list(data.questions)
        for how in ("separate", "late"):
            settings = Settings(max_tokens=embedder.max_tokens, sentences=how)
            started = time.perf_counter()
            index = build_index(data, embedder, settings=settings)
            built = time.perf_counter() - started
            report = evaluate(Retriever(index, embedder), questions)
            print(
                f"| {label} | {how} | {report.recall_at_1:.3f} | {report.recall_at_5:.3f} "
                f"| {report.mrr_at_10:.3f} | {report.refused} | {built:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
