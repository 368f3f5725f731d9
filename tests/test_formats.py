"""What every reader of an article format returns (qa/formats.py `load_file` by suffix):
the shape the page and export tests check (tests/test_pages.py, tests/test_exports.py)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, settings

from qa.articles import Article, split_paragraphs
from qa.formats import SUPPORTED_SUFFIXES, is_supported, unsupported_message

PAGES = Path(__file__).parent / "data" / "pages"
# The fuzz tests of the readers: more examples than the default, and no deadline.
SLOW_OK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def body_texts(article: Article) -> list[str]:
    return [p.text for p in article.body]


def assert_well_formed(article: Article) -> None:
    """Offsets exact, title first, and the same paragraphs as reading the text as a .txt file."""
    assert article.paragraphs[0].number == 1
    assert article.paragraphs[0].dropped == "title"
    assert article.paragraphs[0].text == article.title
    for number, p in enumerate(article.paragraphs, start=1):
        assert p.number == number
        assert article.text[p.start : p.end] == p.text
    assert split_paragraphs(article.text) == [(p.start, p.end) for p in article.paragraphs]
    assert article.body, "an Article always has body text"


def test_supported_suffixes():
    assert SUPPORTED_SUFFIXES == {".txt", ".md", ".html", ".htm", ".jsonl"}
    assert is_supported("seeds/a.HTML") and is_supported("b.jsonl") and is_supported("c.txt")
    assert not is_supported("seeds/report.pdf") and not is_supported("README")
    assert unsupported_message("seeds/report.pdf") == (
        "seeds/report.pdf: not a supported format (.pdf); skipped"
    )
    assert unsupported_message("seeds/notes") == (
        "seeds/notes: not a supported format (no extension); skipped"
    )
