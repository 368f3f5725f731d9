"""Read saved web pages (.html/.htm) and scraper exports (.jsonl) into Articles.

Both readers build the same shape as a plain-text article: `Article.text` is the title, a blank
line, then the paragraphs separated by blank lines, so `article.text[p.start:p.end] == p.text`
and paragraph numbers match the blank-line blocks of `Article.text` (title = paragraph 1).
Body paragraphs go through the plain-text chrome rules (`qa.chrome.chrome_reason`) too.

Web pages: trafilatura finds the main text (no menus, ads, cookie banners, share bars, related
links, comments, footers or scripts) and the page's title, date, site name and canonical URL.
Each block of its output (paragraph, heading, list item, table row) is one paragraph.
A page whose markup lacks most of the text that its schema.org JSON-LD declares (a JavaScript
site's page saved as sent, a teaser) is read from that declaration instead (qa/jsonld.py), its
paragraphs split as an export's text field is.

JSON Lines exports: one JSON object per line, each an article (blank lines are ignored; a line
that is not a JSON object with text is skipped with a warning). Recognised fields, the first
present one wins:

| field     | JSON keys                                       | accepted values                 |
|-----------|-------------------------------------------------|---------------------------------|
| title     | `title`, `headline`                             | string                          |
| text      | `text`, `body`, `content`, `article`            | string, or list of strings      |
|           |                                                 | (one paragraph each)            |
| url       | `url`, `link`, `canonical_url`                  | absolute http/https URL         |
| published | `published`, `date`, `datePublished`,           | ISO 8601 date or datetime, or   |
|           | `published_at`, `pubDate`                       | RFC 2822 ("Tue, 10 Sep 2024 …") |
| site      | `site`, `source`, `site_name`, `publisher`      | string, or object with `name`   |

Anything else in those fields counts as absent (a date that does not parse, a `javascript:` or
relative URL). `published` is the calendar date as written ('YYYY-MM-DD'), not moved to UTC.

Paragraphs in a text field: when the text has blank lines, they separate paragraphs (as in a
.txt file) and a single newline is a line break inside one. When it has none, every newline
is a paragraph break: exports usually join the page's <p> elements with one "\\n" (trafilatura
and many Scrapy pipelines do), and text scraped from HTML is never hard-wrapped. Markup in a
text field is data and stays literal.

Without a title (no <title>, og:title or <h1>; no title field), the first words of the text
stand in for it, as for a .txt file without a title line, and every paragraph stays body text.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from trafilatura import bare_extraction

from qa.articles import (
    ARTICLE_SUFFIXES,
    DERIVED_TITLE_CHARS,
    MAX_ARTICLE_BYTES,
    Article,
    Paragraph,
    decode,
    is_heading,
    parse_article,
    read_bounded,
    unsupported_reason,
)
from qa.chrome import chrome_reason
from qa.errors import EmptyArticle, UnreadableArticle
from qa.jsonld import declared_article
from qa.text import has_words

if TYPE_CHECKING:
    from lxml.etree import _Element

SUPPORTED_SUFFIXES = frozenset(ARTICLE_SUFFIXES)
HTML_SUFFIXES = (".html", ".htm")
JSONL_SUFFIXES = (".jsonl",)

# A saved page carries its markup, inline scripts and styles around 10-50 KB of text: 20 MB is
# far past any news page and still parses in a few seconds.
MAX_PAGE_BYTES = 20_000_000
# An export holds many articles: 200 MB is some thousands of them, each line still held to
# MAX_ARTICLE_BYTES. Reading it costs its size in memory once, when it changed.
MAX_EXPORT_BYTES = 200_000_000

# A line of an export is the article `<file>#L<line number>`: what citations name and what
# `qa inspect` opens. Only a .jsonl path can end so (no other file in seeds/ is read).
_LINE_ID = re.compile(r"(?P<file>.+\.jsonl)#L(?P<line>[1-9][0-9]*)", re.IGNORECASE)

TITLE_KEYS = ("title", "headline")
TEXT_KEYS = ("text", "body", "content", "article")
URL_KEYS = ("url", "link", "canonical_url")
DATE_KEYS = ("published", "date", "datePublished", "published_at", "pubDate")
SITE_KEYS = ("site", "source", "site_name", "publisher")

# trafilatura settings, chosen on pages with menus, ads, cookie banners, comments and layout
# tables (tests/data/pages and tests/test_formats.py):
# - favor_precision: otherwise a page with no article (all navigation) falls through to
#   trafilatura's "baseline" rescue, which returns the whole page text as one paragraph.
# - include_tables: old Arabic sites lay pages out in <table>s; in precision mode, without
#   tables, such an article comes back empty. Navigation cells come back as short lines,
#   which the heading rule below turns into context rather than passages.
# - include_comments=False: reader comments are not the article.
# - deduplicate=False: its cache is process-wide, so the 4th read of the same page in one
#   process returned nothing at all.
# - extensive_search=False for dates: the extensive search took "© 2024" in a footer for a
#   publication date (2024-01-01); the fast search reads meta tags, <time> and the URL.
_TRAFILATURA = {
    "favor_precision": True,
    "include_tables": True,
    "include_comments": False,
    "include_images": False,
    "include_links": False,
    "include_formatting": False,
    "deduplicate": False,
    "with_metadata": True,
    "date_extraction_params": {
        "original_date": True,
        "extensive_search": False,
        "outputformat": "%Y-%m-%d",
    },
}

# A page whose markup holds less than this share of the paragraphs its JSON-LD declares (and
# less text) is read from the declaration (qa/jsonld.py): a JavaScript site's page saved as
# sent, or a teaser.
DECLARED_SHARE = 0.5

# Tags of trafilatura's XML output that run inside a paragraph; every other tag is a block.
_INLINE_TAGS = frozenset({"hi", "ref", "del", "graphic", "span"})
# Blocks whose text is laid out by the page as structure, not guessed from its length.
_STRUCTURAL_HEADING = "head"
_NO_HEADING_GUESS = frozenset({"item", "row"})

# Where a page may declare its encoding: <meta charset=...>, <meta http-equiv ... charset=...>,
# <?xml encoding=...?>. Browsers look in the first 1,024 bytes; long <head>s go past that.
_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)"""
    rb"""|<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._:-]+)""",
    re.I,
)
# HTML standard: these labels mean windows-1252, which is a superset.
_WHATWG_ALIASES = dict.fromkeys(
    ("iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"), "cp1252"
)
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


@dataclass(frozen=True)
class _Block:
    """One paragraph of a page or export before numbering: its text and what made it."""

    text: str
    kind: str  # trafilatura's tag ("p", "head", "item", ...) or "text" for export paragraphs


def is_supported(name: str) -> bool:
    """Whether a file with this name is an article format we read."""
    return PurePath(name).suffix.lower() in SUPPORTED_SUFFIXES


def unsupported_message(path: str) -> str:
    """The one-line warning for a file that is not in a supported format."""
    return f"{path}: {unsupported_reason(path)}; skipped"


def line_id(path: str, line: int) -> str:
    """The article id of line `line` (1-based) of the export at `path`."""
    return f"{path}#L{line}"


def split_id(article: str) -> tuple[str, int | None]:
    """(file, line) of an article id: the line of an export, or None for a whole file."""
    if "#" not in article:  # a whole file, as most are (a line's id has one): no regex
        return article, None
    match = _LINE_ID.fullmatch(article)
    return (match["file"], int(match["line"])) if match else (article, None)


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
        for number, article, why in _export_lines(name, read_bounded(file, name, MAX_EXPORT_BYTES)):
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


# --- web pages ------------------------------------------------------------------------------


def read_html(path: str, raw: bytes) -> Article:
    """The main text and metadata of a saved web page; raise UnreadableArticle / EmptyArticle."""
    html, encoding = _decode_html(raw, path)
    try:
        doc = bare_extraction(html, **_TRAFILATURA)
    except (ValueError, TypeError, RecursionError) as exc:
        # trafilatura turns its own parse failures into None; anything that still escapes
        # (lxml on a malformed page) gets the one-line message all bad files get.
        raise UnreadableArticle(f"{path}: cannot be parsed as a web page ({exc})") from exc
    blocks = list(_walk(doc.body)) if doc is not None and doc.body is not None else []
    title, url, date, site = (doc.title, doc.url, doc.date, doc.sitename) if doc else (None,) * 4
    declared = declared_article(html)
    paragraphs = _text_paragraphs(declared.body) if declared else []
    if declared and _mostly_missing(paragraphs, blocks):
        # The text is in the page's JSON-LD, not (or only in part) in its markup.
        blocks = [_Block(p, "text") for p in paragraphs]
        title = declared.title if isinstance(declared.title, str) else title
        url = url or declared.url
        date = date or declared.published
        site = site or (declared.site if isinstance(declared.site, str) else None)
    article = None
    if blocks:
        article = _build(
            path,
            sha256=hashlib.sha256(raw).hexdigest(),
            encoding=encoding,
            title=title,
            blocks=blocks,
            url=http_url(url),
            published=_iso_date(date),
            site=_one_line(site),
        )
    if article is None:
        raise EmptyArticle(
            f"{path}: no article text found in the page (only menus, links or chrome)"
        )
    return article


def _mostly_missing(declared: list[str], blocks: list[_Block]) -> bool:
    """Whether the markup's text is shorter than the declared paragraphs and holds less than
    DECLARED_SHARE of them: a page whose JSON-LD declares a summary keeps its markup."""
    markup = _fold(" ".join(b.text for b in blocks))
    total = sum(len(p) for p in declared)
    held = sum(len(p) for p in declared if _fold(p) in markup)
    return held < DECLARED_SHARE * total and len(markup) < total


def _decode_html(raw: bytes, path: str) -> tuple[str, str]:
    """(text, encoding) of a page: as any article file (qa.articles.decode: byte-order mark,
    valid UTF-8 first, detection last), with the page's declared charset tried before
    detection. Valid UTF-8 wins over a declaration: pages re-saved by an editor keep their old
    <meta charset=windows-1256> while the bytes are UTF-8."""
    return decode(raw, path, declared=_declared_charset(raw))


def _declared_charset(raw: bytes) -> str | None:
    """The codec a page declares in its first 8 KB, or None (none, unknown, or a UTF-16/32
    label on bytes that were read as ASCII-compatible to find it: wrong)."""
    match = _DECLARED_CHARSET.search(raw, 0, 8192)
    if not match:
        return None
    label = (match.group(1) or match.group(2)).decode("ascii").lower()
    try:
        codec = codecs.lookup(_WHATWG_ALIASES.get(label, label)).name
    except LookupError:
        return None  # an unknown label: browsers ignore it, so do we
    return None if codec.startswith(("utf-16", "utf-32")) else codec


def _walk(elem: _Element) -> Iterator[_Block]:
    """The paragraphs of trafilatura's XML body, in order: one per block element."""
    tag = elem.tag if isinstance(elem.tag, str) else ""
    if tag == "row" and not any(_has_blocks(cell) for cell in elem):
        # A data-table row reads as one line: its cells alone ("320 dinars") mean nothing.
        cells = [_clean(_inline_text(cell)) for cell in elem if isinstance(cell.tag, str)]
        text = " | ".join(c for c in cells if c)
        if text:
            yield _Block(text, "row")
        return
    run = [elem.text or ""]
    for child in elem:
        if not isinstance(child.tag, str):
            pass  # a comment or processing instruction: only its tail is text
        elif child.tag == "lb":
            run.append("\n")
        elif child.tag in _INLINE_TAGS:
            run.append(_inline_text(child))
        else:
            if text := _clean("".join(run)):
                yield _Block(text, tag)
            run = []
            yield from _walk(child)
        run.append(child.tail or "")
    if text := _clean("".join(run)):
        yield _Block(text, tag)


def _has_blocks(elem: _Element) -> bool:
    return any(
        isinstance(e.tag, str) and e.tag not in _INLINE_TAGS and e.tag != "lb"
        for e in elem.iterdescendants()
    )


def _inline_text(elem: _Element) -> str:
    """Text of an element with its line breaks, block children read as separate lines."""
    parts = [elem.text or ""]
    for child in elem:
        if isinstance(child.tag, str):
            if child.tag == "lb":
                parts.append("\n")
            elif child.tag in _INLINE_TAGS:
                parts.append(_inline_text(child))
            else:
                parts.append("\n" + _inline_text(child) + "\n")
        parts.append(child.tail or "")
    return "".join(parts)


# --- JSON Lines exports -----------------------------------------------------------------------


def read_jsonl(path: str, raw: bytes) -> tuple[list[tuple[int, Article]], list[str]]:
    """([(line number, Article)], warnings) of a JSON Lines export; bad lines are skipped."""
    articles: list[tuple[int, Article]] = []
    warnings: list[str] = []
    for number, article, why in _export_lines(path, raw):
        if article is None:
            warnings.append(why)
        else:
            articles.append((number, article))
    return articles, warnings


def _export_lines(path: str, raw: bytes) -> Iterator[tuple[int, Article | None, str]]:
    """(line number, Article or None, the warning when None) of each non-blank line."""
    if not raw:
        raise UnreadableArticle(f"{path}: the file is empty (0 bytes)")
    if b"\x00" in raw[:8192]:
        raise UnreadableArticle(f"{path}: looks like a binary file, not JSON Lines")
    for number, line in enumerate(raw.split(b"\n"), start=1):
        # CRLF and LF files hash alike: the hash is of the line's own bytes.
        line = line.removesuffix(b"\r")
        if number == 1:
            line = line.removeprefix(codecs.BOM_UTF8)
        if not line.strip():
            continue
        if len(line) > MAX_ARTICLE_BYTES:
            limit = f"{MAX_ARTICLE_BYTES / 1e6:g} MB"
            yield (
                number,
                None,
                f"{path} line {number}: over the {limit} limit for one article; skipped",
            )
            continue
        article, why = _jsonl_article(line_id(path, number), line)
        yield number, article, "" if article else f"{path} line {number}: {why}; skipped"


def _jsonl_article(path: str, line: bytes) -> tuple[Article | None, str]:
    """The Article of one export line, or (None, why not)."""
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except json.JSONDecodeError as exc:
        # json's own "line 1" would point at the wrong line: the column is what helps.
        return None, f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    except ValueError as exc:  # e.g. an integer too long for Python to read
        return None, f"not valid JSON ({str(exc).splitlines()[0]})"
    if not isinstance(record, dict):
        return None, f"a JSON {type(record).__name__}, not an object"
    text = _first(record, TEXT_KEYS)
    if isinstance(text, list) and all(isinstance(t, str) for t in text):
        paragraphs = [p for t in text if (p := _clean(t))]
    elif isinstance(text, str):
        paragraphs = _text_paragraphs(text)
    else:
        paragraphs = []
    if not paragraphs:
        return None, f"no article text (one of: {', '.join(TEXT_KEYS)})"
    title = _first(record, TITLE_KEYS)
    site = _first(record, SITE_KEYS)
    if isinstance(site, dict):
        site = site.get("name")
    article = _build(
        path,
        sha256=hashlib.sha256(line).hexdigest(),
        encoding="utf-8",
        title=title if isinstance(title, str) else None,
        blocks=[_Block(p, "text") for p in paragraphs],
        url=http_url(_first(record, URL_KEYS)),
        published=_iso_date(_first(record, DATE_KEYS)),
        site=_one_line(site if isinstance(site, str) else None),
    )
    if article is None:
        return None, "nothing left after removing the title and site chrome"
    return article, ""


def _first(record: dict, keys: tuple[str, ...]) -> object:
    """The value of the first of `keys` that the record has and is not null or empty."""
    for key in keys:
        value = record.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def _text_paragraphs(text: str) -> list[str]:
    """Paragraphs of an export's text field (see the module docstring for the rule)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [p for part in parts if (p := _clean(part))]


# --- shared -----------------------------------------------------------------------------------


def _build(
    path: str,
    *,
    sha256: str,
    encoding: str,
    title: str | None,
    blocks: list[_Block],
    url: str | None,
    published: str | None,
    site: str | None,
) -> Article | None:
    """Title + paragraphs -> Article with exact offsets, or None when no body paragraph is left."""
    title = _one_line(title)
    if title is None:
        if not blocks:
            return None
        # No title in the page or export: its first words stand in, as for a .txt file with no
        # title line. The first paragraph stays body text: a page with no <title>, og:title or
        # <h1> (an export with no title field) has no title line either.
        title = _derived_title(blocks[0].text)
    else:
        # The page's <h1> (or an export's text) often repeats the title, already paragraph 1.
        key = _fold(title)
        blocks = [b for b in blocks if _fold(b.text) != key]

    text = title
    paragraphs = [Paragraph(1, 0, len(title), title, "title")]
    for number, block in enumerate(blocks, start=2):
        text += "\n\n"
        start = len(text)
        text += block.text
        reason = chrome_reason(block.text)
        if reason is None and not has_words(block.text):
            reason = "no words"
        if reason is None and block.kind == _STRUCTURAL_HEADING:
            reason = "heading"
        paragraphs.append(Paragraph(number, start, len(text), block.text, reason))
    # A short line that does not end like a sentence is a subheading when text follows it,
    # the rule of qa.articles; list items and table rows are the page's own structure.
    for i, p in enumerate(paragraphs[1:], start=1):
        if (
            p.dropped is None
            and blocks[i - 1].kind not in _NO_HEADING_GUESS
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


def _clean(text: str) -> str:
    """One paragraph: spaces collapsed in each line, empty lines gone, no blank line inside."""
    lines = (" ".join(line.split()) for line in _encodable(text).splitlines())
    return "\n".join(line for line in lines if line)


def _one_line(value: str | None) -> str | None:
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


def _fold(text: str) -> str:
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


def _iso_date(value: object) -> str | None:
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
