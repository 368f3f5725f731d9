from __future__ import annotations

import pytest

from qa.text import (
    clause_spans,
    has_words,
    line_spans,
    normalize,
    script,
    sentence_spans,
    trim_span,
)


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
    text = (
        "تأسس التحالف عام 2015. هل انتهى؟ نعم، انتهى فعلياً؛ لكن لم يعلن ذلك! "
        "Prices rose 3.5 percent."
    )
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


def test_trim_span_narrows_to_the_text():
    text = "  \t عنوان \r\n"
    a, b = trim_span(text, 0, len(text))
    assert text[a:b] == "عنوان"
    assert trim_span("   ", 0, 3)[0] == trim_span("   ", 0, 3)[1]  # blank: an empty span


def test_line_spans_read_every_line_end():
    text = "one\r\ntwo\rthree\n\n four \r\r\nfive"
    assert [text[a:b] for a, b in line_spans(text)] == ["one", "two", "three", "four", "five"]
    # Sentences end at line ends of any kind too.
    text = "نعم\rلا"
    assert [text[a:b] for a, b in sentence_spans(text)] == ["نعم", "لا"]


@pytest.mark.parametrize("text", ["\ud800", "abc\udfff", "مرحبا \ud83d بكم", "\udc00\ud800"])
def test_lone_surrogates_never_raise(text):
    folded = normalize(text)
    assert not any("\ud800" <= c <= "\udfff" for c in folded)
    folded.encode("utf-8")  # what is searched can always be encoded (no error)
    assert script(text) in ("ar", "en", "other")
    assert has_words(text) == has_words(folded)
