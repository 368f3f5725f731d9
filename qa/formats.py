"""Articles from any file in seeds/, by its format: plain text (qa/articles.py), a saved web
page (qa/pages.py), a scraper's JSON Lines export (qa/exports.py), each into the same shape of
Article (qa/blocks.py).
"""

from __future__ import annotations

from pathlib import Path, PurePath

from qa.articles import (
    ARTICLE_SUFFIXES,
    MAX_ARTICLE_BYTES,
    Article,
    parse_article,
    read_bounded,
    unsupported_reason,
)
from qa.blocks import http_url
from qa.errors import EmptyArticle, UnreadableArticle
from qa.exports import MAX_EXPORT_BYTES, export_lines, line_id, read_jsonl, split_id
from qa.pages import MAX_PAGE_BYTES, read_html

__all__ = [
    "http_url",
    "is_supported",
    "line_id",
    "load_file",
    "read_html",
    "read_jsonl",
    "split_id",
    "unsupported_message",
]

SUPPORTED_SUFFIXES = frozenset(ARTICLE_SUFFIXES)
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl",)


def is_supported(name: str) -> bool:
    """Whether a file with this name is an article format we read."""
    return PurePath(name).suffix.lower() in SUPPORTED_SUFFIXES


def unsupported_message(path: str) -> str:
    """The one-line warning for a file that is not in a supported format."""
    return f"{path}: {unsupported_reason(path)}; skipped"


def load_file(file: Path, name: str) -> tuple[list[Article], dict[str, str]]:
    """The articles of one file in seeds/, read by its format, and the export lines skipped.

    A text file or a web page is one article named `name`; an export is one article per good
    line, named `name#L<n>` (`line_id`), and a bad line is {its id: a one-line warning}.
    Raises UnreadableArticle / EmptyArticle when the file as a whole cannot be read or holds
    no article (an export none of whose lines is one).
    """
    suffix = PurePath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnreadableArticle(f"{name}: {unsupported_reason(name)}")
    if suffix in HTML_SUFFIXES:
        return [read_html(name, read_bounded(file, name, MAX_PAGE_BYTES))], {}
    if suffix in JSONL_SUFFIXES:
        articles: list[Article] = []
        skipped: dict[str, str] = {}
        for number, article, why in export_lines(name, read_bounded(file, name, MAX_EXPORT_BYTES)):
            if article is None:
                skipped[line_id(name, number)] = why
            else:
                articles.append(article)
        if not articles:
            first = (
                next(iter(skipped.values()), "").removeprefix(name + " ").removesuffix("; skipped")
            )
            raise EmptyArticle(
                f"{name}: no line of the export holds an article" + (f" ({first})" if first else "")
            )
        return articles, skipped
    return [parse_article(name, read_bounded(file, name, MAX_ARTICLE_BYTES))], {}
