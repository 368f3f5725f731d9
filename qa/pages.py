"""Read a saved web page (.html/.htm) into an Article (the shape of qa/blocks.py).

Web pages: trafilatura finds the main text (no menus, ads, cookie banners, share bars, related
links, comments, footers or scripts) and the page's title, date, site name and canonical URL.
Each block of its output (paragraph, heading, list item, table row) is one paragraph.
A page whose markup lacks most of the text that its schema.org JSON-LD declares (a JavaScript
site's page saved as sent, a teaser) is read from that declaration instead (qa/jsonld.py), its
paragraphs split as an export's text field is.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from trafilatura import bare_extraction

from qa.articles import Article, decode
from qa.blocks import (
    Block,
    build,
    clean,
    fold,
    http_url,
    iso_date,
    one_line,
    text_paragraphs,
)
from qa.errors import EmptyArticle, UnreadableArticle
from qa.jsonld import declared_article

if TYPE_CHECKING:
    from lxml.etree import _Element

# A saved page carries its markup, inline scripts and styles around 10-50 KB of text: 20 MB is
# far past any news page and still parses in a few seconds.
MAX_PAGE_BYTES = 20_000_000

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
    paragraphs = text_paragraphs(declared.body) if declared else []
    if declared and _mostly_missing(paragraphs, blocks):
        # The text is in the page's JSON-LD, not (or only in part) in its markup.
        blocks = [Block(p, "text") for p in paragraphs]
        title = declared.title if isinstance(declared.title, str) else title
        url = url or declared.url
        date = date or declared.published
        site = site or (declared.site if isinstance(declared.site, str) else None)
    article = None
    if blocks:
        article = build(
            path,
            sha256=hashlib.sha256(raw).hexdigest(),
            encoding=encoding,
            title=title,
            blocks=blocks,
            url=http_url(url),
            published=iso_date(date),
            site=one_line(site),
        )
    if article is None:
        raise EmptyArticle(
            f"{path}: no article text found in the page (only menus, links or chrome)"
        )
    return article


def _mostly_missing(declared: list[str], blocks: list[Block]) -> bool:
    """Whether the markup's text is shorter than the declared paragraphs and holds less than
    DECLARED_SHARE of them: a page whose JSON-LD declares a summary keeps its markup."""
    markup = fold(" ".join(b.text for b in blocks))
    total = sum(len(p) for p in declared)
    held = sum(len(p) for p in declared if fold(p) in markup)
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


def _walk(elem: _Element) -> Iterator[Block]:
    """The paragraphs of trafilatura's XML body, in order: one per block element."""
    tag = elem.tag if isinstance(elem.tag, str) else ""
    if tag == "row" and not any(_has_blocks(cell) for cell in elem):
        # A data-table row reads as one line: its cells alone ("320 dinars") mean nothing.
        cells = [clean(_inline_text(cell)) for cell in elem if isinstance(cell.tag, str)]
        text = " | ".join(c for c in cells if c)
        if text:
            yield Block(text, "row")
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
            if text := clean("".join(run)):
                yield Block(text, tag)
            run = []
            yield from _walk(child)
        run.append(child.tail or "")
    if text := clean("".join(run)):
        yield Block(text, tag)


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
