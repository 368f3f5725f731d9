"""The near-duplicate rule (qa/duplicates.py) and the date tie-break (qa/ranking.py `order`)."""

from __future__ import annotations

import numpy as np

from qa.duplicates import MIN_JACCARD, collapse, jaccard, shingles
from qa.ranking import TIE, order
from tests.fakes import unit
from tests.samples import SEED

PARAGRAPHS = [p for p in SEED.read_text(encoding="utf-8").split("\n\n") if len(p.split()) > 15]


def test_the_seed_paragraphs_are_distinct_and_their_light_edits_are_copies():
    words = [shingles(p) for p in PARAGRAPHS]
    for i, a in enumerate(words):
        for b in words[i + 1 :]:
            assert jaccard(a, b) < 0.1
    for p in PARAGRAPHS:
        edited = p.replace("،", ",") + " (العربي الجديد)"
        assert jaccard(shingles(p), shingles(edited)) >= MIN_JACCARD
        one_word = p.split(" ")
        one_word[len(one_word) // 2] += "ا"
        assert jaccard(shingles(p), shingles(" ".join(one_word))) >= MIN_JACCARD


def test_shingles_read_folded_text():
    assert shingles("أعلنت موسكو") == shingles("اعلنت  موسكو!")
    assert shingles("Hello") == frozenset({("hello",)})
    assert jaccard(frozenset(), frozenset()) == 1.0


def test_copies_follow_the_passage_they_copy_and_take_no_place():
    rng = np.random.default_rng(0)
    vectors = unit(rng, 6, 32)
    texts = ["alpha beta gamma delta", "one two three four", "red green blue", "x y z w"]
    # Candidate 4 copies candidate 1 (same text, a nearby vector); 5 copies candidate 0.
    texts += [texts[1], texts[0] + " epsilon"]
    vectors[4] = vectors[1] + 0.01
    vectors[5] = vectors[0]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ranked = [0, 4, 1, 5, 2, 3]
    assert collapse(ranked, vectors, texts.__getitem__, k=3) == [(0, [5]), (4, [1]), (2, [])]
    # Copies found after the k-th distinct passage still join theirs.
    assert collapse([0, 4, 2, 3, 1, 5], vectors, texts.__getitem__, k=2) == [(0, [5]), (4, [1])]


def test_same_words_with_far_apart_vectors_are_not_compared():
    vectors = np.eye(2, dtype=np.float32)
    same = ["the same words", "the same words"]
    assert collapse([0, 1], vectors, same.__getitem__, k=2) == [(0, []), (1, [])]


def test_ties_go_to_the_more_recent_article_and_nothing_else_moves():
    scores = np.array([0.5, 0.9, 0.9, 0.9 + TIE / 2, 0.1, 0.7], np.float32)
    recency = np.array([5.0, 1.0, -np.inf, 2.0, 9.0, 0.0])
    assert order(scores, recency).tolist() == [3, 1, 2, 5, 0, 4]
    # Without ties, the score decides alone.
    plain = np.array([0.3, 0.2, 0.1])
    assert order(plain, np.array([0.0, 5.0, 9.0])).tolist() == [0, 1, 2]
    assert order(np.zeros(0), np.zeros(0)).tolist() == []
