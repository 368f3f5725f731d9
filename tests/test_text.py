from __future__ import annotations

import pytest

from qa.text import clause_spans, has_words, normalize, script, sentence_spans


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("أحمد", "احمد"),
        ("إسلام", "اسلام"),
        ("آمال", "امال"),
        ("مستشفى", "مستشفي"),
        ("مدرسة", "مدرسه"),
        ("مُحَمَّدٌ", "محمد"),  # diacritics
        ("جمــيل", "جميل"),  # tatweel
        ("سُؤال", "سوال"),
        ("٢٠١٥", "2015"),
        ("ISIS Coalition", "isis coalition"),
    ],
)
def test_normalize_folds_arabic_spelling_variants(raw, folded):
    assert normalize(raw) == folded


def test_script_detects_the_dominant_alphabet():
    assert script("في أي عام تأسس التحالف الرباعي؟") == "ar"
    assert script("In which year was the alliance formed?") == "en"
    assert script("قال Vladimir Putin إن التحالف قائم") == "ar"
    assert script("2015 ...") == "other"


def test_has_words_rejects_punctuation_only():
    assert not has_words(" ؟!... ،،  ")
    assert not has_words("___")
    assert has_words("٢٠١٥")
    assert has_words("لماذا؟")


def test_sentence_spans_split_on_arabic_and_latin_punctuation():
    text = "تأسس التحالف عام 2015. هل انتهى؟ نعم، انتهى فعلياً؛ لكن لم يعلن ذلك! Prices rose 3.5 percent."
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences == [
        "تأسس التحالف عام 2015.",
        "هل انتهى؟",
        "نعم، انتهى فعلياً؛",
        "لكن لم يعلن ذلك!",
        "Prices rose 3.5 percent.",
    ]


def test_sentence_spans_keep_dates_and_initials_together():
    text = "أعلنت موسكو في سبتمبر/أيلول 2015 عن التحالف. The U.S. Army left."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "أعلنت موسكو في سبتمبر/أيلول 2015 عن التحالف.",
        "The U.S. Army left.",
    ]


def test_sentence_spans_respect_a_window():
    text = "xx. أول جملة. ثاني جملة. yy"
    assert [text[a:b] for a, b in sentence_spans(text, 4, 24)] == ["أول جملة.", "ثاني جملة."]


def test_clause_spans_split_at_arabic_comma():
    text = "بين روسيا والعراق، وإيران، ودمشق"
    assert [text[a:b] for a, b in clause_spans(text)] == ["بين روسيا والعراق،", "وإيران،", "ودمشق"]
