"""Read an article file: detect its encoding, find the title and paragraphs, drop site chrome.

Offsets are character offsets into the decoded text (a UTF-8 byte-order mark removed), so
`article.text[p.start:p.end] == p.text` for every paragraph.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from qa.chrome import chrome_reason
from qa.errors import EmptyArticle, UnreadableArticle
from qa.text import has_words

ARTICLE_SUFFIXES = (".txt", ".md")

_BLANK_LINES = re.compile(r"(?:[ \t]*\r?\n){2,}")
_MD_HEADING = re.compile(r"#{1,6}[ \t]+")
# A subheading: one short line that does not end like a sentence. It is not a passage of its
# own (short texts look similar to every question) but context for the paragraphs under it.
HEADING_MAX_WORDS = 12
_SENTENCE_END = re.compile(r"[.!?؟…:؛,،]\W*$")


def is_heading(text: str) -> bool:
    if _MD_HEADING.match(text):
        return "\n" not in text.strip()
    return (
        "\n" not in text.strip()
        and len(text.split()) <= HEADING_MAX_WORDS
        and not _SENTENCE_END.search(text)
    )


@dataclass(frozen=True)
class Paragraph:
    """One blank-line-separated block of the file; `number` is 1-based in file order."""

    number: int
    start: int
    end: int
    text: str
    dropped: str | None = (
        None  # why it is not a passage ("title", "heading", a chrome rule), or None
    )


@dataclass(frozen=True)
class Article:
    path: str  # as given to load_article (callers pass it relative to the project root)
    sha256: str
    encoding: str
    text: str
    title: str
    paragraphs: tuple[Paragraph, ...]

    @property
    def body(self) -> list[Paragraph]:
        """The paragraphs that are article text (not the title, headings or chrome)."""
        return [p for p in self.paragraphs if p.dropped is None]

    def sections(self) -> list[tuple[str, Paragraph]]:
        """Each body paragraph with the subheading it stands under ("" before the first)."""
        heading, out = "", []
        for p in self.paragraphs:
            if p.dropped == "heading":
                heading = _MD_HEADING.sub("", p.text, count=1)
            elif p.dropped is None:
                out.append((heading, p))
        return out


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decode(raw: bytes, name: str) -> tuple[str, str]:
    """(text, encoding) of an article's bytes: UTF-8 when valid, else detected (e.g. cp1256)."""
    if not raw:
        raise UnreadableArticle(f"{name}: the file is empty (0 bytes)")
    if b"\x00" in raw[:8192]:
        raise UnreadableArticle(f"{name}: looks like a binary file, not text")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(
        raw, cp_isolation=["cp1256", "iso8859_6", "cp1252", "latin_1", "utf_16"]
    ).best()
    if best is None:
        raise UnreadableArticle(
            f"{name}: cannot tell the text encoding (not UTF-8 or Windows-1256)"
        )
    text = str(best)
    if sum(c.isprintable() or c.isspace() for c in text) < 0.95 * len(text):
        raise UnreadableArticle(f"{name}: looks like a binary file, not text")
    return text, best.encoding


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line-separated block, with surrounding whitespace trimmed."""
    spans = []
    pos = 0
    for match in [*_BLANK_LINES.finditer(text), None]:
        end = match.start() if match else len(text)
        start = pos
        while start < end and text[start].isspace():
            start += 1
        stop = end
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        if stop > start:
            spans.append((start, stop))
        pos = match.end() if match else len(text)
    return spans


def parse_article(path: str, raw: bytes) -> Article:
    """Decode and clean one article; raise UnreadableArticle / EmptyArticle for bad files."""
    text, encoding = decode(raw, path)
    spans = split_paragraphs(text)
    if not spans:
        raise EmptyArticle(f"{path}: the file holds only whitespace")
    # The first non-empty line is the title, even when no blank line follows it.
    first_start, first_end = spans[0]
    newline = text.find("\n", first_start, first_end)
    if newline != -1:
        rest = newline + 1
        while rest < first_end and text[rest].isspace():
            rest += 1
        title_end = newline
        while title_end > first_start and text[title_end - 1].isspace():
            title_end -= 1
        spans[0:1] = [(first_start, title_end), (rest, first_end)]
    title_start, title_end = spans[0]
    heading = _MD_HEADING.match(text, title_start, title_end)
    title = text[heading.end() if heading else title_start : title_end]

    paragraphs = [Paragraph(1, title_start, title_end, text[title_start:title_end], "title")]
    for number, (start, end) in enumerate(spans[1:], start=2):
        body = text[start:end]
        reason = chrome_reason(body)
        if reason is None and not has_words(body):
            reason = "no words"
        paragraphs.append(Paragraph(number, start, end, body, reason))
    # A heading-like line counts as a heading only when article text follows it.
    for i, p in enumerate(paragraphs[1:], start=1):
        if (
            p.dropped is None
            and is_heading(p.text)
            and any(q.dropped is None for q in paragraphs[i + 1 :])
        ):
            paragraphs[i] = Paragraph(p.number, p.start, p.end, p.text, "heading")
    article = Article(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=encoding,
        text=text,
        title=title,
        paragraphs=tuple(paragraphs),
    )
    if not article.body:
        raise EmptyArticle(f"{path}: no paragraphs left after removing the title and site chrome")
    return article


def load_article(file: Path, display_path: str | None = None) -> Article:
    """Read and clean the article at `file`; `display_path` is how citations will name it."""
    name = display_path or str(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise UnreadableArticle(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    return parse_article(name, raw)


def find_articles(seeds: Path) -> list[Path]:
    """Article files under `seeds`, sorted, hidden files and folders skipped."""
    return sorted(
        p
        for p in seeds.rglob("*")
        if p.suffix.lower() in ARTICLE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(seeds).parts)
    )
