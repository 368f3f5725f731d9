"""Ranking variants on XQuAD, dev and test Recall@1 / Recall@5, each a `Weights` or a feature.

Every (question, passage) pair is measured once (benchmarks/common.py `ask`) and ranked with
the product's `ranking.score`: the shipped ranking is `SHIPPED`, the lexical weight sweep is
`replace(SHIPPED, lexical=w)`, and the comparison methods are `DENSE` and `LEXICAL`. The
other lexical forms (BM25 over its maximum, z-scores) are experiments, not shipped; each
replaces the lexical term of the shipped ranking. The matrices score every passage, the product
only its first-stage candidates (FAISS top 100 per language plus the lexical top 100):
negligible at XQuAD size.

Dev = questions of XQuAD articles 0-23, test = articles 24-47; a one-language collection is
always all 240 paragraphs. Mixed collection: even articles in Arabic, odd articles in English.

    .venv/bin/python benchmarks/fusion_experiments.py        # every direction
    .venv/bin/python benchmarks/fusion_experiments.py ar     # Arabic only (embeds one set)
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import common
import numpy as np

from qa.ranking import DENSE, LEXICAL, SHIPPED, score

LEXICAL_WEIGHTS = (0.05, 0.1, 0.15, 0.2)


def zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)


def variants(a: common.Asked) -> dict[str, np.ndarray]:
    f = a.features
    no_lexical = score(f, replace(SHIPPED, lexical=0.0))
    same_bm25 = np.where(f.same_language, f.bm25, 0.0)
    out = {
        "dense, passage only": f.dense,
        "dense + sentence": score(replace(f, language=np.zeros_like(f.language)), DENSE),
        "dense + sentence + language term (DENSE)": score(f, DENSE),
        "bm25 (LEXICAL)": score(f, LEXICAL),
    }
    for w in LEXICAL_WEIGHTS:
        out[f"shipped, lexical {w}"] = score(f, replace(SHIPPED, lexical=w))
        # The share without the runner-up's subtracted: what the relative share replaced.
        out[f"shipped, lexical {w}, no runner-up"] = score(
            replace(f, runner_up=np.zeros_like(f.runner_up)), replace(SHIPPED, lexical=w)
        )
        bm25_max = same_bm25 / (same_bm25.max(1, keepdims=True) + 1e-6)
        out[f"shipped, {w} x bm25/max instead"] = no_lexical + w * bm25_max
    for w in (0.25, 0.5):
        z = np.where(f.same_language, zscore(f.bm25), 0.0)
        out[f"z(shipped, no lexical) + {w} z(bm25)"] = zscore(no_lexical) + w * z
    out["shipped without second encoder"] = score(f, replace(SHIPPED, channels={}))
    out["SHIPPED"] = score(f, SHIPPED)
    return out


def report(name: str, a: common.Asked) -> None:
    print(f"\n== {name} ({len(a.questions)} questions, {len(a.collection.pids)} passages)")
    for label, scores in variants(a).items():
        dev, test = a.recall(scores, a.dev), a.recall(scores, ~a.dev)
        print(
            f"{label:42s} dev R@1 {dev[0]:.3f} R@5 {dev[1]:.3f}"
            f" | test R@1 {test[0]:.3f} R@5 {test[1]:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "languages",
        nargs="*",
        help="ar and/or en: report only the directions within these (default: both)",
    )
    languages = set(parser.parse_args().languages or ("ar", "en"))
    if not languages <= {"ar", "en"}:
        parser.error(f"unknown languages {sorted(languages - {'ar', 'en'})}: choose ar or en")
    reports = [(f"{q} → {c}", c, q, None) for q, c in map(common.direction, common.DIRECTIONS)]
    for q, paragraphs in (("en", "ar"), ("ar", "en"), ("ar", "ar"), ("en", "en")):
        reports.append((f"mixed: {q} → {paragraphs} paragraphs", "mixed", q, paragraphs))
        reports.append((f"  same questions, all-{paragraphs}", paragraphs, q, paragraphs))
    print(f"SHIPPED = {SHIPPED}")
    for name, c, q, only in reports:
        if only is None and {c, q} <= languages or languages == {"ar", "en"}:
            report(name, common.ask(c, q, only))


if __name__ == "__main__":
    main()
