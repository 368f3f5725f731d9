from __future__ import annotations

import pytest

from qa.lexical import LexicalIndex, term, terms


def test_arabic_words_fold_and_stem_to_one_term():
    # Hamza, ta marbuta, the article and a conjunction glued to it all fold away.
    assert term("المكتبة") == term("مكتبة") == term("والمكتبة") == term("بالمكتبة")
    assert term("أيلول") == term("ايلول")
    assert term("التحالف") == term("تحالف")


def test_function_words_are_not_terms():
    assert terms("في أي عام تأسس التحالف؟") == [term("عام"), term("تأسس"), term("التحالف")]
    assert terms("In which year was it formed?") == ["year", "form"]


def test_scores_match_a_brute_force_coverage():
    texts = [
        "تأسس التحالف الرباعي في سبتمبر/أيلول 2015",
        "Heavy rain flooded the road",
        "افتتاح مكتبة جديدة",
    ]
    index = LexicalIndex.of_texts(texts)
    bm25, coverage = index.scores("في أي عام تأسس التحالف الرباعي؟")
    q = terms("في أي عام تأسس التحالف الرباعي؟")
    idf = {t: index.idf(t) for t in q}
    expected = sum(idf[t] for t in q if t in terms(texts[0])) / sum(idf.values())
    assert (
        coverage[0] == pytest.approx(expected, rel=1e-5) and 0 < coverage[0] < 1
    )  # "عام" is nowhere
    assert bm25[0] > 0 and bm25[1] == bm25[2] == 0 and coverage[1] == coverage[2] == 0


def test_a_query_of_only_function_words_scores_nothing():
    bm25, coverage = LexicalIndex.of_texts(["ما هو هذا"]).scores("ما هو؟")
    assert not bm25.any() and not coverage.any()


def test_lone_surrogates_are_not_part_of_a_term():
    assert term("\ud800") is None
    assert term("مكتبة\udfff") == term("مكتبة")
    assert term("lib\ud800rary") == term("library")
    assert terms("مكتبة\ud800 \udc00library") == [term("مكتبة"), term("library")]
    assert LexicalIndex.of_texts(["\ud800 مكتبة"]).scores("مكتبة\ud800")[0][0] > 0


def test_bm25_matches_bm25s_and_blocks_assemble_like_one_index():
    import bm25s
    import numpy as np

    from qa.lexical import Postings, TermCounts

    rng = np.random.default_rng(0)
    words = "مكتبة كتاب مدينة طريق rain road flood library book city تمر سعر".split()
    texts = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(60)]
    reference = bm25s.BM25()
    reference.index([terms(t) for t in texts], show_progress=False)
    ours = LexicalIndex.of_texts(texts)
    for query in ("مكتبة الكتاب", "flooded road", "سعر التمر في المدينة"):
        expected = sum(reference.get_scores([t]) for t in dict.fromkeys(terms(query)))
        assert ours.scores(query)[0] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # Two blocks, some rows left out, in another order: the same as one index of those texts.
    a, b = (Postings.of(TermCounts.of(part)) for part in (texts[:30], texts[30:]))
    take_a, take_b = np.array([5, 1, 2, 20]), np.array([0, 29, 3])
    blocks = LexicalIndex([(a, take_a), (b, take_b)])
    alone = LexicalIndex.of_texts([texts[i] for i in [5, 1, 2, 20, 30, 59, 33]])
    for query in ("مكتبة طريق", "book rain"):
        for x, y in zip(blocks.scores(query), alone.scores(query), strict=True):
            assert x == pytest.approx(y, rel=1e-6)


def test_a_word_with_a_shadda_or_tatweel_is_one_term():
    assert terms("أسّس") == terms("أسس") == [term("أسس")]
    assert terms("التحالـــف الرباعيّ") == terms("التحالف الرباعي")


def test_postings_hold_each_terms_rows_and_counts_as_the_term_counts_say():
    """Postings turn a block's term counts around (term -> rows); checked term by term
    against the counts of each text, Arabic and Latin terms, and a term no text has."""
    from collections import Counter

    from qa.lexical import Postings, TermCounts

    texts = ["تأسس التحالف الرباعي عام 2015", "", "rain, rain and floods", "التحالف والتحالف"]
    postings = Postings.of(TermCounts.of(texts))
    tallies = [Counter(terms(t)) for t in texts]
    for t in set().union(*tallies):
        rows, tf = postings.of_term(t)
        assert rows.tolist() == [i for i, c in enumerate(tallies) if t in c], t
        assert tf.tolist() == [c[t] for c in tallies if t in c], t
    assert postings.lengths.tolist() == [sum(c.values()) for c in tallies]
    assert postings.of_term("مكتبة")[0].size == 0 and postings.of_term("zzz")[0].size == 0
    again = Postings.from_arrays(postings.arrays())
    assert again.of_term(term("التحالف"))[1].tolist() == [1, 2]
