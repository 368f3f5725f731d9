"""Read a scraper's export (.jsonl) into Articles, one per line (the shape of qa/blocks.py).

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
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterator

from qa.articles import MAX_ARTICLE_BYTES, Article
from qa.blocks import Block, build, clean, http_url, iso_date, one_line, text_paragraphs
from qa.errors import UnreadableArticle

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


def line_id(path: str, line: int) -> str:
    """The article id of line `line` (1-based) of the export at `path`."""
    return f"{path}#L{line}"


def split_id(article: str) -> tuple[str, int | None]:
    """(file, line) of an article id: the line of an export, or None for a whole file."""
    if "#" not in article:  # a whole file, as most are (a line's id has one): no regex
        return article, None
    match = _LINE_ID.fullmatch(article)
    return (match["file"], int(match["line"])) if match else (article, None)


def read_jsonl(path: str, raw: bytes) -> tuple[list[tuple[int, Article]], list[str]]:
    """([(line number, Article)], warnings) of a JSON Lines export; bad lines are skipped."""
    articles: list[tuple[int, Article]] = []
    warnings: list[str] = []
    for number, article, why in export_lines(path, raw):
        if article is None:
            warnings.append(why)
        else:
            articles.append((number, article))
    return articles, warnings


def export_lines(path: str, raw: bytes) -> Iterator[tuple[int, Article | None, str]]:
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
        paragraphs = [p for t in text if (p := clean(t))]
    elif isinstance(text, str):
        paragraphs = text_paragraphs(text)
    else:
        paragraphs = []
    if not paragraphs:
        return None, f"no article text (one of: {', '.join(TEXT_KEYS)})"
    title = _first(record, TITLE_KEYS)
    site = _first(record, SITE_KEYS)
    if isinstance(site, dict):
        site = site.get("name")
    article = build(
        path,
        sha256=hashlib.sha256(line).hexdigest(),
        encoding="utf-8",
        title=title if isinstance(title, str) else None,
        blocks=[Block(p, "text") for p in paragraphs],
        url=http_url(_first(record, URL_KEYS)),
        published=iso_date(_first(record, DATE_KEYS)),
        site=one_line(site if isinstance(site, str) else None),
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
