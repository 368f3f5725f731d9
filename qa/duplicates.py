"""Near-duplicate passages: the same paragraph in several articles (syndicated wire copy, a
re-publication, a page saved twice), so that an answer cites it once and lists the others.

Two passages are copies when their word-bigram sets (over `qa.text.normalize`d words) have a
Jaccard similarity of at least MIN_JACCARD. Measured (docs/retrieval.md, "Duplicates"): distinct
XQuAD paragraphs reach at most 0.065 (Arabic) and 0.128 (English) over 29,400 pairs each; the
seed article's paragraphs against a copy with another headline, view counter and footer are
1.0; with one word changed in every paragraph at least 0.79, two words 0.62, a credit appended
and the punctuation changed 0.90, the last sentence of each paragraph dropped 0.53.

Only the candidates of one question are compared (qa/retrieve.py), never the collection: each
candidate against the at most k passages already kept, and the word sets only for the pairs
whose main vectors are close (COSINE_GATE), which distinct passages seldom are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from qa.text import normalize

# Copies share at least half their word pairs: between the 0.128 of the closest distinct XQuAD
# paragraphs and the 0.53 of a copy whose paragraphs each lost their last sentence.
MIN_JACCARD = 0.5
# Word pairs: single words let two paragraphs on one topic look alike (0.42 on XQuAD), while
# triples make one changed word in a short paragraph cost too much (0.68 for 20 words).
SHINGLE = 2
# Passages whose main vectors are further apart than this are not compared word by word: copies
# measured 0.985 or more (bf16 vectors of the same text in another batch: 0.9967), and only
# 0.1% of distinct XQuAD paragraph pairs reach 0.89.
COSINE_GATE = 0.9

_WORDS = re.compile(r"\w+")


def shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The word pairs of `text`, normalized (one word: that word alone)."""
    words = _WORDS.findall(normalize(text))
    n = min(SHINGLE, len(words))
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def collapse(
    ranked: Sequence[int], vectors: np.ndarray, text: Callable[[int], str], k: int
) -> list[tuple[int, list[int]]]:
    """The first `k` distinct candidates of `ranked`, each with the later candidates that are
    its copies (best first).

    `vectors[i]` is candidate i's main passage vector and `text(i)` its text. A copy never takes
    one of the k places, so a passage published five times cannot push distinct answers out.
    """
    kept: list[tuple[int, list[int]]] = []
    words: dict[int, frozenset] = {}

    def copy_of(i: int, close: np.ndarray) -> list[int] | None:
        """The copies list of the first kept passage that `i` is a copy of, if any."""
        for g in np.flatnonzero(close >= COSINE_GATE).tolist():
            first = kept[g][0]
            for j in (first, i):
                if j not in words:
                    words[j] = shingles(text(j))
            if jaccard(words[first], words[i]) >= MIN_JACCARD:
                return kept[g][1]
        return None

    ranked = np.asarray(ranked, dtype=np.int64)
    at = 0
    while at < len(ranked) and len(kept) < k:
        i = int(ranked[at])
        at += 1
        copies = copy_of(i, vectors[[j for j, _ in kept]] @ vectors[i]) if kept else None
        if copies is None:
            kept.append((i, []))
        else:
            copies.append(i)
    # Past the k-th distinct passage only copies of the kept ones are looked for: one product.
    rest = ranked[at:]
    if len(rest) and kept:
        close = vectors[rest] @ vectors[[j for j, _ in kept]].T
        for r in np.flatnonzero((close >= COSINE_GATE).any(axis=1)).tolist():
            copies = copy_of(int(rest[r]), close[r])
            if copies is not None:
                copies.append(int(rest[r]))
    return kept
