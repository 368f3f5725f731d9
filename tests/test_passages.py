from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qa.articles import load_article, parse_article
from qa.passages import _pieces, make_passages
from tests.samples import SEED


def words(text: str) -> int:
    return len(text.split())


def test_short_paragraphs_are_one_passage_each():
    article = load_article(SEED, "seeds/" + SEED.name)
    passages = make_passages(article, words, 500)
    assert [p.paragraph for p in passages] == [p.number for p in article.body]
    assert all(p.lang == "ar" and p.title == article.title for p in passages)


def test_long_paragraph_splits_at_sentences_and_keeps_offsets():
    article = load_article(SEED, "seeds/" + SEED.name)
    passages = make_passages(article, words, 55)
    # The subheading is read with the passage, so it counts against the budget too.
    assert all(words(p.embed_text(False)) <= 55 for p in passages)
    fifth = [p for p in passages if p.paragraph == 5]
    assert len(fifth) > 1
    assert fifth[0].text.startswith("أعلنت موسكو") and fifth[0].text.endswith("ونظام الأسد.")
    for p in passages:
        assert article.text[p.start : p.end] == p.text
        for a, b in p.sentences:
            assert p.text[a:b].strip() == p.text[a:b] and p.text[a:b]


def test_title_is_given_as_context_only_when_asked():
    article = load_article(SEED, "seeds/" + SEED.name)
    p = make_passages(article, words, 500)[0]
    assert p.embed_text(False) == p.text
    assert p.embed_text(True) == f"{article.title}\n{p.text}"


sentence = st.text(alphabet="ابتثجح دذرز abc ،.؟!\n", min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(st.lists(sentence, min_size=1, max_size=6), st.integers(min_value=3, max_value=12))
def test_every_passage_is_an_exact_slice_that_fits(paragraphs, budget):
    raw = "Title\n\n" + "\n\n".join(paragraphs)
    try:
        article = parse_article("a.txt", raw.encode())
    except Exception:  # noqa: BLE001 - nothing left after cleaning is a valid outcome here
        return
    passages = make_passages(article, words, budget)
    for p in passages:
        assert article.text[p.start : p.end] == p.text
        assert words(p.embed_text(False)) <= budget or len(p.text.split()) == 1
    # Nothing is lost: every word of the body is in some passage, in order.
    body_words = [w for para in article.body for w in para.text.split()]
    assert [w for p in passages for w in p.text.split()] == body_words


def test_a_paragraph_without_full_stops_is_cut_in_few_token_counts():
    """Scraped text can run for pages without a full stop: it is cut between words into
    passages as full as the budget allows, counting tokens a few times per passage, not once
    per word (33 s a megabyte with the real tokenizer; 2.8 s now)."""
    text = " ".join(f"كلمة{i}" for i in range(5000))
    counted = []

    def fits(span: str) -> bool:
        counted.append(span)
        return words(span) <= 100

    spans = _pieces(text, 0, len(text), fits)
    assert [words(text[a:b]) for a, b in spans] == [100] * 50
    assert " ".join(text[a:b] for a, b in spans) == text
    assert len(counted) < 1000  # once per word would be over 5,000
