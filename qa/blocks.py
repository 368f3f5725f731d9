"""Title and paragraph blocks -> an Article with exact offsets: what a saved web page
(qa/pages.py) and a line of a scraper's export (qa/exports.py) have in common.

`Article.text` is the title, a blank line, then the paragraphs separated by blank lines, so
`article.text[p.start:p.end] == p.text` and paragraph numbers match the blank-line blocks of
`Article.text` (title = paragraph 1), as for a plain-text article. Body paragraphs go through
the plain-text chrome rules (`qa.chrome.chrome_reason`) too.

Without a title (no <title>, og:title or <h1>; no title field), the first words of the text
stand in for it, as for a .txt file without a title line, and every paragraph stays body text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from qa.articles import DERIVED_TITLE_CHARS, Article, Paragraph, is_heading
from qa.chrome import chrome_reason
from qa.text import has_words

# Blocks whose text is laid out by the page as structure, not guessed from its length.
STRUCTURAL_HEADING = "head"
NO_HEADING_GUESS = frozenset({"item", "row"})
BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


@dataclass(frozen=True)
class Block:
    """One paragraph of a page or export before numbering: its text and what made it."""

    text: str
    kind: str  # trafilatura's tag ("p", "head", "item", ...) or "text" for export paragraphs


def text_paragraphs(text: str) -> list[str]:
    """Paragraphs of an export's text field or a declared article body (the rule: qa/exports.py)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = BLANK_LINE.split(text) if BLANK_LINE.search(text) else text.split("\n")
    return [p for part in parts if (p := clean(part))]


def build(
    path: str,
    *,
    sha256: str,
    encoding: str,
    title: str | None,
    blocks: list[Block],
    url: str | None,
    published: str | None,
    site: str | None,
) -> Article | None:
    """Title + paragraphs -> Article with exact offsets, or None when no body paragraph is left."""
    title = one_line(title)
    if title is None:
        if not blocks:
            return None
        # No title in the page or export: its first words stand in, as for a .txt file with no
        # title line. The first paragraph stays body text: a page with no <title>, og:title or
        # <h1> (an export with no title field) has no title line either.
        title = _derived_title(blocks[0].text)
    else:
        # The page's <h1> (or an export's text) often repeats the title, already paragraph 1.
        key = fold(title)
        blocks = [b for b in blocks if fold(b.text) != key]

    text = title
    paragraphs = [Paragraph(1, 0, len(title), title, "title")]
    for number, block in enumerate(blocks, start=2):
        text += "\n\n"
        start = len(text)
        text += block.text
        reason = chrome_reason(block.text)
        if reason is None and not has_words(block.text):
            reason = "no words"
        if reason is None and block.kind == STRUCTURAL_HEADING:
            reason = "heading"
        paragraphs.append(Paragraph(number, start, len(text), block.text, reason))
    # A short line that does not end like a sentence is a subheading when text follows it,
    # the rule of qa.articles; list items and table rows are the page's own structure.
    for i, p in enumerate(paragraphs[1:], start=1):
        if (
            p.dropped is None
            and blocks[i - 1].kind not in NO_HEADING_GUESS
            and is_heading(p.text)
            and any(q.dropped is None for q in paragraphs[i + 1 :])
        ):
            paragraphs[i] = Paragraph(p.number, p.start, p.end, p.text, "heading")
    if not any(p.dropped is None for p in paragraphs):
        return None
    return Article(
        path=path,
        sha256=sha256,
        encoding=encoding,
        text=text,
        title=title,
        paragraphs=tuple(paragraphs),
        url=url,
        published=published,
        site=site,
    )


def clean(text: str) -> str:
    """One paragraph: spaces collapsed in each line, empty lines gone, no blank line inside."""
    lines = (" ".join(line.split()) for line in _encodable(text).splitlines())
    return "\n".join(line for line in lines if line)


def one_line(value: str | None) -> str | None:
    """A title or site name on one line, or None when it has no text."""
    if not isinstance(value, str):
        return None
    return " ".join(_encodable(value).split()) or None


def _encodable(text: str) -> str:
    """`text` with lone surrogates (a JSON "\\ud800" escape) replaced, so it can be saved."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _derived_title(text: str) -> str:
    """The first words of `text`, cut at a word to DERIVED_TITLE_CHARS (as qa.articles does)."""
    words = " ".join(text.split())
    if len(words) <= DERIVED_TITLE_CHARS:
        return words
    cut = words.rfind(" ", 0, DERIVED_TITLE_CHARS)
    return words[: cut if cut > 0 else DERIVED_TITLE_CHARS] + "…"


def fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def http_url(value: object) -> str | None:
    """The URL when it is an absolute http(s) URL, else None (javascript:, relative, junk)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def iso_date(value: object) -> str | None:
    """'YYYY-MM-DD' of an ISO 8601 date/datetime or an RFC 2822 date; None when unparseable.

    A datetime keeps the calendar date it was written with (the publisher's local date),
    rather than being moved to UTC.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
