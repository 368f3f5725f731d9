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
    index = LexicalIndex(texts)
    bm25, coverage = index.scores("في أي عام تأسس التحالف الرباعي؟")
    q = terms("في أي عام تأسس التحالف الرباعي؟")
    idf = {t: index.idf(t) for t in q}
    expected = sum(idf[t] for t in q if t in terms(texts[0])) / sum(idf.values())
    assert (
        coverage[0] == pytest.approx(expected, rel=1e-5) and 0 < coverage[0] < 1
    )  # "عام" is nowhere
    assert bm25[0] > 0 and bm25[1] == bm25[2] == 0 and coverage[1] == coverage[2] == 0


def test_a_query_of_only_function_words_scores_nothing():
    bm25, coverage = LexicalIndex(["ما هو هذا"]).scores("ما هو؟")
    assert not bm25.any() and not coverage.any()


def test_lone_surrogates_are_not_part_of_a_term():
    assert term("\ud800") is None
    assert term("مكتبة\udfff") == term("مكتبة")
    assert term("lib\ud800rary") == term("library")
    assert terms("مكتبة\ud800 \udc00library") == [term("مكتبة"), term("library")]
    assert LexicalIndex(["\ud800 مكتبة"]).scores("مكتبة\ud800")[0][0] > 0
