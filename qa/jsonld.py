"""The article a web page declares in schema.org JSON-LD, for pages whose markup lacks its text.

News sites built as JavaScript applications send the article inside a
`<script type="application/ld+json">` block (schema.org `NewsArticle`: `headline`,
`articleBody`, `datePublished`, `publisher`) and put it into the page in the browser: a page
saved as the server sent it (wget, curl, a scraper) holds menus and an empty element where the
text goes. qa/pages.py reads such a page from its declaration (`declared_article`) when the
markup holds less than half of the declared text. As in a scraper's export, the declared text
is data: markup written in it stays literal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

# schema.org's Article and the types below it that news and blog pages use.
ARTICLE_TYPES = frozenset(
    {
        "Article",
        "NewsArticle",
        "AnalysisNewsArticle",
        "BackgroundNewsArticle",
        "OpinionNewsArticle",
        "ReportageNewsArticle",
        "ReviewNewsArticle",
        "BlogPosting",
        "LiveBlogPosting",
        "Report",
        "SatiricalArticle",
    }
)
# Where an article's object sits inside another: a @graph, or the page's main entity.
_NESTED = ("@graph", "mainEntity", "mainEntityOfPage", "hasPart", "itemListElement", "item")
_MAX_DEPTH = 8
_SCRIPT = re.compile(
    r"""<script\b[^>]*\btype\s*=\s*["']?application/ld\+json\b[^>]*>(.*?)</script\s*>""",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Declared:
    """What a page's JSON-LD says of its article; values as found (checked by the reader)."""

    body: str
    title: object
    url: object
    published: object
    site: object


def declared_article(html: str) -> Declared | None:
    """The article with the longest `articleBody` among the page's JSON-LD blocks, or None."""
    best: Declared | None = None
    for block in _SCRIPT.findall(html):
        try:
            # strict=False: raw newlines inside strings, as many sites write articleBody.
            document = json.loads(block.strip(), strict=False)
        except (ValueError, RecursionError):
            continue  # a broken block: the page may hold another
        for thing in _articles(document, 0):
            body = thing.get("articleBody")
            if isinstance(body, list):
                body = "\n\n".join(part for part in body if isinstance(part, str))
            if not isinstance(body, str) or not body.strip():
                continue
            if best is None or len(body) > len(best.body):
                publisher = thing.get("publisher")
                best = Declared(
                    body=body,
                    title=thing.get("headline") or thing.get("name"),
                    url=thing.get("url") or _id(thing.get("mainEntityOfPage")),
                    published=thing.get("datePublished") or thing.get("dateCreated"),
                    site=publisher.get("name") if isinstance(publisher, dict) else publisher,
                )
    return best


def _articles(value: object, depth: int) -> Iterator[dict]:
    """Every object of an article type in a JSON-LD value, however it is nested."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, list):
        for item in value:
            yield from _articles(item, depth + 1)
    elif isinstance(value, dict):
        types = value.get("@type")
        types = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and t.removeprefix("schema:") in ARTICLE_TYPES for t in types):
            yield value
        for key in _NESTED:
            yield from _articles(value.get(key), depth + 1)


def _id(value: object) -> object:
    return value.get("@id") if isinstance(value, dict) else value
