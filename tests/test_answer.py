"""The "not found" decision of qa/answer.py, on hits with known scores."""

from __future__ import annotations

import pytest

from qa.answer import CROSS_LINGUAL_OFFSET, NOT_FOUND_BELOW, answer_question
from qa.passages import Passage
from qa.retrieve import LEXICAL_WEIGHT, Hit

TEXT = "تأسس التحالف الرباعي في سبتمبر/أيلول 2015. ومقره بغداد."
FIRST = (0, TEXT.index(".") + 1)  # the first sentence, offsets in TEXT


class OneHit:
    """A retriever whose search always returns one hit with the given scores."""

    def __init__(self, dense: float, lexical: float = 0.0, cross_lingual: bool = False):
        passage = Passage(
            article="seeds/a.txt",
            title="التحالف",
            paragraph=2,
            start=0,
            end=len(TEXT),
            text=TEXT,
            lang="ar",
            sentences=(FIRST, (FIRST[1] + 1, len(TEXT))),
        )
        self.hit = Hit(
            passage=passage,
            row=0,
            score=dense,
            dense=dense,
            sentence=FIRST,
            sentence_score=dense,
            lexical=lexical,
            cross_lingual=cross_lingual,
        )

    def search(self, question, k=3, articles=None, context=None):
        return [self.hit]


# Just below the threshold on the cosine alone: what decides is the evidence added to it.
BELOW = NOT_FOUND_BELOW - 0.02


def test_a_same_language_passage_needs_more_than_the_cosine():
    refused = answer_question(OneHit(BELOW), "متى تأسس التحالف؟")
    assert not refused.answered and refused.answer is None and refused.citations == []
    assert refused.nearest[0].file == "seeds/a.txt"
    assert refused.not_found_message.startswith("لم أجد")


def test_lexical_evidence_lifts_a_same_language_passage_over_the_threshold():
    share = 0.02 / LEXICAL_WEIGHT + 0.05
    answered = answer_question(OneHit(BELOW, lexical=share), "متى تأسس التحالف؟")
    assert answered.answered
    assert answered.answer == "تأسس التحالف الرباعي في سبتمبر/أيلول 2015."


def test_a_passage_in_the_other_language_is_allowed_the_cosine_it_loses():
    # A right answer across languages scores ~0.08 lower and has no lexical share.
    assert CROSS_LINGUAL_OFFSET > 0.02
    answered = answer_question(OneHit(BELOW, cross_lingual=True), "When was the alliance founded?")
    assert answered.answered and answered.citations[0].paragraph == 2
    far = answer_question(
        OneHit(NOT_FOUND_BELOW - CROSS_LINGUAL_OFFSET - 0.01, cross_lingual=True),
        "When was the alliance founded?",
    )
    assert not far.answered and far.not_found_message == "Not found in the articles."


@pytest.mark.parametrize("threshold", [0.5, 0.95])
def test_an_explicit_threshold_overrides_the_default(threshold):
    answer = answer_question(OneHit(0.9), "متى تأسس التحالف؟", threshold=threshold)
    assert answer.answered is (threshold < 0.9)
