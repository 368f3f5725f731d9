"""More signals measured for issue 12 and not shipped, on reader_questions.py's runs and split.

    .venv/bin/python benchmarks/reader_variants.py    # after reader_vectors.py; ~1 minute

Each row is the shipped ranking (`ranking.score`) plus one variant, printed as
reader_questions.py prints its rows (R@1 dev/test per run, the dev and test objectives):
  n-grams    a second lexical index over character n-grams of each Arabic word (the folded
             word less its article and conjunction, or its Snowball stem): its idf share and
             BM25 shortfall for same-language passages, as the shipped lexical terms are used;
  USE same   the second encoder's corrected dense score on same-language passages too;
  mix        passage and best-sentence cosine weighed a : 1 - a instead of 0.5 : 0.5;
  numbers    the share of the question's numbers that an other-language passage holds;
  mean       passage vectors replaced by the normalized mean of their sentences' vectors (what
             embedding without a passage pass would give), for e5 or for USE.
docs/retrieval.md and docs/benchmarks.md hold the figures.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import replace
from functools import cache

import numpy as np
import reader_questions as rq

import qa.lexical as lexical
from qa.index import new_index
from qa.text import DIACRITICS, TATWEEL, normalize

ARTICLE = re.compile("^(?:وال|فال|بال|كال|لل|ال)(?=...)")
NUMBER = re.compile(r"\d+")
SHIPPED_TERMS = lexical.terms
SHIPPED_INDEX = rq.set_index


def gram_terms(n: int, of: str):
    """`terms` as n-grams of each word: of its folded form ("word") or of its stem ("stem")."""

    def terms(text: str) -> list[str]:
        out = []
        for word in lexical._TOKEN.findall(DIACRITICS.sub("", text).replace(TATWEEL, "")):
            stem = lexical.term(word)
            if stem is None:
                continue
            folded = normalize(word)
            arabic = lexical._ARABIC.search(folded)
            w = ARTICLE.sub("", folded) if arabic and of == "word" else stem
            out.extend([w] if len(w) <= n else [w[i : i + n] for i in range(len(w) - n + 1)])
        return out

    return terms


@cache
def gram_scores(name: str, n: int, of: str) -> tuple[np.ndarray, np.ndarray]:
    """(BM25, idf share) of every (question, passage) of run `name` over the n-gram index."""
    cname, questions = rq.runs()[name]
    texts = [p.search_text() for p in rq.collection(cname).index.passages]
    lexical.terms = gram_terms(n, of)
    try:
        grams = lexical.LexicalIndex.of_texts(texts)
        scored = [grams.scores(q.text) for q in questions]
    finally:
        lexical.terms = SHIPPED_TERMS
    return np.array([b for b, _ in scored]), np.array([s for _, s in scored])


def grams(n: int, of: str, share_weight: float, bm25_weight: float):
    def extra(r: rq.Run, scores: np.ndarray) -> np.ndarray:
        bm25, share = gram_scores(r.name, n, of)
        same = r.asked.features.same_language
        bm25 = np.where(same, bm25, 0.0)
        top = np.maximum(bm25.max(axis=1, keepdims=True), 1e-9)
        shortfall = np.where(same, (bm25 - top) / top, 0.0)
        return share_weight * np.where(same, share, 0.0) + bm25_weight * shortfall

    return extra


def use_same(weight: float):
    def extra(r: rq.Run, scores: np.ndarray) -> np.ndarray:
        f = r.asked.features
        return np.where(f.same_language, weight * f.channels["use"], 0.0)

    return extra


def mix(a: float):
    def extra(r: rq.Run, scores: np.ndarray) -> np.ndarray:
        f = r.asked.features  # the shipped score holds 0.5 x (passage + sentence)
        return (a - 0.5) * (f.dense - f.sentence)

    return extra


def numbers(text: str) -> set[int]:
    return {int(m) for m in NUMBER.findall(unicodedata.normalize("NFKC", text)) if len(m) <= 6}


@cache
def passage_numbers(cname: str) -> list[set[int]]:
    return [numbers(p.search_text()) for p in rq.collection(cname).index.passages]


def shared_numbers(weight: float):
    def extra(r: rq.Run, scores: np.ndarray) -> np.ndarray:
        cname, questions = rq.runs()[r.name]
        held = passage_numbers(cname)
        out = np.zeros_like(scores)
        for i, q in enumerate(questions):
            if asked := numbers(q.text):
                out[i] = [weight * len(asked & h) / len(asked) for h in held]
        return np.where(r.asked.features.same_language, 0.0, out)

    return extra


def mean_of_sentences(keys: tuple[str, ...]) -> None:
    """From here on, the collections' passage vectors of channels `keys` (and of no other) are
    the normalized mean of their sentences' vectors."""

    @cache
    def averaged(name: str):
        index = SHIPPED_INDEX(name)
        counts = np.array([len(p.sentences) for p in index.passages])
        owner = np.repeat(np.arange(len(counts)), counts)
        channels = dict(index.channels)
        for key in keys:
            sums = np.zeros(channels[key].passages.shape, np.float64)
            np.add.at(sums, owner, channels[key].sentences)
            sums /= np.linalg.norm(sums, axis=1, keepdims=True)
            channels[key] = replace(channels[key], passages=sums.astype(np.float32))
        return new_index(
            index.directory.with_name(f"{index.directory.name}-mean-{'-'.join(keys)}"),
            index.settings,
            index.articles,
            {},
            list(index.passages),
            channels,
        )

    rq.set_index = averaged
    for cached in (rq.collection, rq.run, rq.sentences):
        cached.cache_clear()


def main() -> None:
    rq.header()
    rq.line("shipped")
    for of in ("word", "stem"):
        for n in (3, 4):
            for share, bm25 in ((0.02, 0), (0.05, 0), (0, 0.02), (0.03, 0.01)):
                label = f"+ {n}-grams of the {of}, share {share}, BM25 {bm25}"
                rq.line(label, extra=grams(n, of, share, bm25))
    for x in (0.02, 0.05, 0.1, 0.2):
        rq.line(f"+ USE on same-language passages {x}", extra=use_same(x))
    for a in (0.3, 0.4, 0.6, 0.7):
        rq.line(f"passage {a} : best sentence {1 - a:.1f}", extra=mix(a))
    for x in (0.01, 0.02, 0.05):
        rq.line(f"+ numbers shared across languages {x}", extra=shared_numbers(x))
    for keys in (("main",), ("use",)):
        mean_of_sentences(keys)
        rq.line(f"passage vectors = mean of sentences, {keys[0]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
