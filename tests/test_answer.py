"""Hits -> an Answer: the answering sentence, citations, and the "not found" decision."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from qa.answer import answer_question, clean_question
from qa.errors import EmptyQuestion
from qa.passages import Passage
from qa.ranking import SHIPPED
from qa.retrieve import Hit

TEXT = "تأسس التحالف الرباعي في سبتمبر/أيلول 2015. ومقره بغداد."
FIRST = (0, TEXT.index(".") + 1)  # the first sentence, offsets in TEXT


class OneHit:
    """A retriever whose search always returns one hit with the given confidence."""

    def __init__(self, confidence: float, weights=SHIPPED):
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
        self.weights = weights
        self.index = SimpleNamespace(articles={}, passages=[passage])  # what citations read
        self.hit = Hit(
            passage=passage,
            row=0,
            score=confidence,
            confidence=confidence,
            dense=confidence,
            sentence=FIRST,
            sentence_score=confidence,
        )

    def search(self, question, k=3, articles=None, context=None):
        return [self.hit]


def test_below_the_threshold_is_not_found_in_the_askers_language():
    refused = answer_question(OneHit(SHIPPED.not_found_below - 0.01), "متى تأسس التحالف؟")
    assert not refused.answered and refused.answer is None and refused.citations == []
    assert refused.nearest[0].file == "seeds/a.txt"
    assert refused.not_found_message.startswith("لم أجد")
    english = answer_question(OneHit(0.1), "When was the alliance founded?")
    assert english.not_found_message == "Not found in the articles."


def test_an_answer_is_its_best_sentence_cited_to_its_paragraph():
    answered = answer_question(OneHit(SHIPPED.not_found_below + 0.01), "متى تأسس التحالف؟")
    assert answered.answered and answered.citations[0].paragraph == 2
    assert answered.answer == "تأسس التحالف الرباعي في سبتمبر/أيلول 2015."


def test_the_threshold_comes_from_the_retrievers_weights():
    lenient = replace(SHIPPED, not_found_below=0.5)
    assert answer_question(OneHit(0.6, lenient), "متى تأسس التحالف؟").answered


@pytest.mark.parametrize("threshold", [0.5, 0.95])
def test_an_explicit_threshold_overrides_the_default(threshold):
    answer = answer_question(OneHit(0.9), "متى تأسس التحالف؟", threshold=threshold)
    assert answer.answered is (threshold < 0.9)


def test_a_question_with_lone_surrogates_is_cleaned_not_a_crash():
    question, _ = clean_question("متى \udcff تأسس التحالف؟")
    assert "\udcff" not in question and question.encode("utf-8")
    with pytest.raises(EmptyQuestion):
        clean_question("\ud800 ؟")


def test_an_answer_only_the_second_encoder_let_through_is_labelled_low_confidence():
    weights = SHIPPED
    hit = OneHit(weights.not_found_below + 0.01).hit  # what the decision reads: passes
    main_only = weights.not_found_below - weights.cross_lingual_offset - 0.02  # e5 alone: not
    retriever = OneHit(0.0)
    retriever.hit = replace(hit, cross_lingual=True, dense=main_only, sentence_score=main_only)
    answer = answer_question(retriever, "When was the alliance founded?")
    assert answer.answered and answer.low_confidence
    assert answer.low_confidence_label == "Closest passage, low confidence:"
    assert answer.to_json()["low_confidence"] is True
    sure = replace(hit, cross_lingual=True, dense=0.95, sentence_score=0.95)
    retriever.hit = sure
    assert not answer_question(retriever, "When was the alliance founded?").low_confidence
    retriever.hit = hit  # same language: never labelled
    assert not answer_question(retriever, "متى تأسس التحالف؟").low_confidence
