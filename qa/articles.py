"""Read an article file: detect its encoding, find the title and paragraphs, drop site chrome.

Offsets are character offsets into the decoded text (a byte-order mark removed), so
`article.text[p.start:p.end] == p.text` for every paragraph.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from charset_normalizer import from_bytes

from qa.chrome import chrome_reason
from qa.errors import EmptyArticle, UnreadableArticle
from qa.text import LINE_BREAK, has_words, line_spans, trim_span

# What find_articles collects; a new format is one more suffix here and a reader for it in
# qa/formats.py (`load_file`). Plain text and Markdown are read here, web pages (qa/pages.py)
# and JSON Lines exports (qa/exports.py) there. Any other file in seeds/ gets a "not a
# supported format" line.
ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")

# A news article is 10-50 KB of text; 5 MB is a hundred times the longest of them, so only
# something that is not an article (a log, a dump, a database export, /dev/zero) is refused,
# and reading, decoding and splitting one file stays well under a second and 100 MB of memory.
MAX_ARTICLE_BYTES = 5_000_000
# Headlines run 40-150 characters (a few to twenty words); 300 leaves room for a long one. A
# longer first line is body text with no title above it (e.g. a file that is one long line).
TITLE_MAX_CHARS = 300
# When there is no title line, the first words of the text stand in for it, cut to this.
DERIVED_TITLE_CHARS = 80

# A blank line ends a paragraph. "\r*\n" also reads files whose lines end "\r\r\n" (a Windows
# file converted twice); a file with no "\n" at all is an old Mac file, whose lines end "\r".
_BLANK_LINES = re.compile(r"(?:[ \t]*\r*\n){2,}")
_BLANK_LINES_CR = re.compile(r"(?:[ \t]*\r){2,}")
_MD_HEADING = re.compile(r"#{1,6}[ \t]+")
# A subheading: one short line that does not end like a sentence. It is not a passage of its
# own (short texts look similar to every question) but context for the paragraphs under it.
HEADING_MAX_WORDS = 12
# Punctuation that closes a line of running text (a clause end counts too, unlike a sentence
# boundary in qa.text.SENTENCE_END): a line ending so is text, not a subheading.
ENDS_LIKE_A_SENTENCE = re.compile(r"[.!?؟…:؛,،]\W*$")

# Byte-order marks of the encodings with NULs in plain text, longest first (the UTF-32-LE
# mark begins with the UTF-16-LE one). A UTF-8 mark is taken off by the "utf-8-sig" codec.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def is_heading(text: str) -> bool:
    if _MD_HEADING.match(text):
        return "\n" not in text.strip()
    return (
        "\n" not in text.strip()
        and len(text.split()) <= HEADING_MAX_WORDS
        and not ENDS_LIKE_A_SENTENCE.search(text)
    )


@dataclass(frozen=True)
class Paragraph:
    """One blank-line-separated block of the file (or a part of one); `number` is 1-based.

    A block whose first or last lines are site chrome is given as the chrome lines (dropped)
    and the text between them, all with the block's number.
    """

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
    # What the page or export says about the article; None where the format does not say.
    url: str | None = None
    published: str | None = None  # ISO 8601 date
    site: str | None = None

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


class _NotRegularFile(OSError):
    """A FIFO, device, socket or folder where a file was expected."""


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "a special file"


def _open_regular(path: Path) -> int:
    """A read-only descriptor of `path`; _NotRegularFile unless it is a regular file.

    Special files are refused before opening (opening some devices has effects), and again
    after, in case the path changed in between; O_NONBLOCK keeps a FIFO from hanging open().
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise _NotRegularFile(_kind(mode))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _NotRegularFile(_kind(mode))
    return fd


def file_sha256(path: Path) -> str:
    """sha256 of a regular file, read in chunks (OSError for anything else)."""
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def read_bounded(file: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of `file`, never more than max_bytes + 1 of them read."""
    limit = f"{max_bytes / 1e6:g} MB"
    try:
        fd = _open_regular(file)
    except _NotRegularFile as exc:
        raise UnreadableArticle(f"{name}: is {exc.args[0]}, not an article file") from exc
    except OSError as exc:
        raise UnreadableArticle(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise UnreadableArticle(
                f"{name}: {_megabytes(size)} is over the {limit} limit for one article"
            )
        try:
            raw = f.read(max_bytes + 1)  # a file still growing cannot slip past the limit
        except OSError as exc:
            raise UnreadableArticle(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if len(raw) > max_bytes:
        raise UnreadableArticle(f"{name}: is over the {limit} limit for one article")
    return raw


def _looks_binary(text: str) -> bool:
    return sum(c.isprintable() or c.isspace() for c in text) < 0.95 * len(text)


def decode(raw: bytes, name: str, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding) of an article's bytes.

    UTF-16/32 by byte-order mark, else UTF-8 when valid, else detected (e.g. cp1256).
    """
    if not raw:
        raise UnreadableArticle(f"{name}: the file is empty (0 bytes)")
    # Before the NUL check: half the bytes of UTF-16 English text are NULs.
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise UnreadableArticle(
                    f"{name}: starts with a {encoding} byte-order mark but is not {encoding} "
                    f"(bad bytes at byte {exc.start + len(bom)})"
                ) from exc
            if "\x00" in text or _looks_binary(text):
                raise UnreadableArticle(f"{name}: looks like a binary file, not text")
            return text, encoding
    if b"\x00" in raw[:8192]:
        raise UnreadableArticle(f"{name}: looks like a binary file, not text")
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    if declared:  # what the file says it is (a web page's charset), before guessing
        try:
            text = raw.decode(declared)
        except UnicodeDecodeError:
            pass  # a wrong declaration: detect instead
        else:
            if not _looks_binary(text):
                return text, declared
    best = from_bytes(
        raw, cp_isolation=["cp1256", "iso8859_6", "cp1252", "latin_1", "utf_16"]
    ).best()
    if best is None:
        raise UnreadableArticle(
            f"{name}: cannot tell the text encoding (not UTF-8 or Windows-1256)"
        )
    text = str(best)
    if _looks_binary(text):
        raise UnreadableArticle(f"{name}: looks like a binary file, not text")
    return text, best.encoding


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line-separated block, with surrounding whitespace trimmed."""
    blank_lines = _BLANK_LINES if "\n" in text or "\r" not in text else _BLANK_LINES_CR
    spans = []
    pos = 0
    for match in [*blank_lines.finditer(text), None]:
        start, stop = trim_span(text, pos, match.start() if match else len(text))
        if stop > start:
            spans.append((start, stop))
        pos = match.end() if match else len(text)
    return spans


def _block_paragraphs(text: str, number: int, start: int, end: int) -> list[Paragraph]:
    """The paragraph(s) of one body block: chrome first and last lines cut off the text.

    The whole block is chrome when it matches a rule as a whole, or when all that is left
    once its chrome lines are cut is a short line that does not end like a sentence (the
    site name under "©", a designer's name). Chrome lines between text lines stay: only the
    edges of a block are where scrapers glue footers and counters to a paragraph.
    """
    block = text[start:end]
    reason = chrome_reason(block)
    if reason is None and not has_words(block):
        reason = "no words"
    lines = line_spans(text, start, end)
    if reason is not None or len(lines) == 1:
        return [Paragraph(number, start, end, block, reason)]
    reasons = [chrome_reason(text[a:b]) for a, b in lines]
    kept = [i for i, r in enumerate(reasons) if r is None]
    if len(kept) == len(lines):
        return [Paragraph(number, start, end, block)]
    first_reason = next(r for r in reasons if r is not None)
    if not kept:
        return [Paragraph(number, start, end, block, first_reason)]
    first, last = kept[0], kept[-1]
    rest_start, rest_end = lines[first][0], lines[last][1]
    rest = text[rest_start:rest_end]
    if is_heading(rest) or not has_words(rest):
        return [Paragraph(number, start, end, block, first_reason)]
    out = [Paragraph(number, a, b, text[a:b], reasons[i]) for i, (a, b) in enumerate(lines[:first])]
    out.append(Paragraph(number, rest_start, rest_end, rest))
    out += [
        Paragraph(number, a, b, text[a:b], reasons[i])
        for i, (a, b) in enumerate(lines[last + 1 :], start=last + 1)
    ]
    return out


def _derived_title(text: str) -> str:
    """The first words of `text`, as a title for an article whose file has none."""
    words = " ".join(text[: DERIVED_TITLE_CHARS * 4].split())
    if len(words) <= DERIVED_TITLE_CHARS:
        return words
    cut = words.rfind(" ", 0, DERIVED_TITLE_CHARS)
    return words[: cut if cut > 0 else DERIVED_TITLE_CHARS] + "…"


def parse_article(path: str, raw: bytes) -> Article:
    """Decode and clean one article; raise UnreadableArticle / EmptyArticle for bad files.

    The first non-empty line is the title unless it is longer than TITLE_MAX_CHARS; then the
    file has no title line, all of it is body, and its first words stand in as the title.
    """
    text, encoding = decode(raw, path)
    spans = split_paragraphs(text)
    if not spans:
        raise EmptyArticle(f"{path}: the file holds only whitespace")
    first_start, first_end = spans[0]
    line_end = LINE_BREAK.search(text, first_start, first_end)
    title_start, title_end = trim_span(
        text, first_start, line_end.start() if line_end else first_end
    )
    has_title = title_end - title_start <= TITLE_MAX_CHARS
    title = ""
    paragraphs: list[Paragraph] = []
    if has_title:
        # The title line is a paragraph of its own, even when no blank line follows it.
        rest = trim_span(text, line_end.end(), first_end) if line_end else None
        spans[0:1] = [(title_start, title_end), *([rest] if rest else [])]
        heading = _MD_HEADING.match(text, title_start, title_end)
        title = text[heading.end() if heading else title_start : title_end]
        paragraphs.append(
            Paragraph(1, title_start, title_end, text[title_start:title_end], "title")
        )
    for number, (start, end) in enumerate(
        spans[1:] if has_title else spans, start=len(paragraphs) + 1
    ):
        paragraphs += _block_paragraphs(text, number, start, end)
    # A heading-like line counts as a heading only when article text follows it.
    last_text = max((i for i, p in enumerate(paragraphs) if p.dropped is None), default=-1)
    for i, p in enumerate(paragraphs[:last_text]):
        if p.dropped is None and is_heading(p.text):
            paragraphs[i] = Paragraph(p.number, p.start, p.end, p.text, "heading")
    body = [p for p in paragraphs if p.dropped is None]
    if not body:
        raise EmptyArticle(f"{path}: no paragraphs left after removing the title and site chrome")
    return Article(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=encoding,
        text=text,
        title=title if has_title else _derived_title(body[0].text),
        paragraphs=tuple(paragraphs),
    )


def load_article(
    file: Path, display_path: str | None = None, max_bytes: int = MAX_ARTICLE_BYTES
) -> Article:
    """Read and clean the article at `file`; `display_path` is how citations will name it.

    Only a regular file of at most `max_bytes` is read (UnreadableArticle otherwise), and
    never more than max_bytes + 1 bytes of it, whatever its size.
    """
    name = display_path or str(file)
    return parse_article(name, read_bounded(file, name, max_bytes))


def unsupported_reason(name: str) -> str:
    """Why a file in seeds/ is not read: "not a supported format (.pdf)"."""
    suffix = Path(name).suffix.lower() or "no extension"
    return f"not a supported format ({suffix})"


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def find_articles(seeds: Path, rejected: list[str] | None = None) -> list[Path]:
    """Article files under `seeds`, sorted (see `article_files`)."""
    return [Path(path) for path in article_files(seeds, rejected).values()]


def article_files(seeds: Path, rejected: list[str] | None = None) -> dict[str, str]:
    """Article files under `seeds` (paths that start with it), by their real path, sorted by
    path; hidden files and folders skipped.

    A link is followed only when its target is inside `seeds`. An article-named entry that is
    a link out of `seeds`, a broken link, a FIFO, device or socket, and a folder link that
    leads out or back up (a loop) are skipped, with a line saying why added to `rejected` when
    it is given; so is any other file (a PDF, a Word file, an image): not a supported format.
    Only regular files come back, each once however many links lead to it.

    Paths are plain strings: the chat lists seeds/ on every rerun, and at 200,000 files
    `Path` objects were most of that time (4.6 s of it; 1.6 s now).
    """
    root = os.path.realpath(seeds)
    shown = os.path.basename(root)

    def reject(path: str, why: str) -> None:
        if rejected is not None:
            inside = Path(os.path.relpath(path, seeds)).as_posix()
            rejected.append(f"{_printable(shown)}/{_printable(inside)}: {why}; skipped")

    found: dict[str, str] = {}  # real path -> the first path (sorted) that reaches it
    walked: set[str] = {root}  # real paths of folders, each walked once
    # (a folder as reached under seeds, the real paths of it and the folders above it)
    stack: list[tuple[str, tuple[str, ...]]] = [(os.fspath(seeds), (root,))]
    while stack:
        folder, above = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if folder != os.fspath(seeds):  # a missing seeds/ is the caller's to report
                reject(folder, f"a folder that cannot be read ({exc.strerror or exc})")
            continue
        subfolders: list[tuple[str, tuple[str, ...]]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            kind, detail = _entry(entry, above, root)
            if kind == "rejected":
                reject(entry.path, detail)
            elif kind == "folder" and detail not in walked:
                walked.add(detail)
                subfolders.append((entry.path, (*above, detail)))
            elif kind == "file" and (
                detail not in found or _parts(entry.path) < _parts(found[detail])
            ):
                found[detail] = entry.path
        stack.extend(reversed(subfolders))  # so that they come off the stack in sorted order
    ordered = sorted(found.items(), key=lambda item: _parts(item[1]))  # as Paths sort
    return dict(ordered)


NOT_UTF8_NAME = (
    "a name that is not UTF-8 (written in another encoding, e.g. Windows-1256): rename it, "
    "e.g. convmv -f cp1256 -t utf-8 --notest NAME"
)


def _entry(entry: os.DirEntry, above: tuple[str, ...], root: str) -> tuple[str, str]:
    """What a folder entry under `root` is: ("file" | "folder", its real path), ("rejected",
    why), or ("ignored", "") for a file of another format reached through a link from
    outside, or unreadable and not article-named. `above`: the real paths of its folder and
    the folders above it."""
    is_article = os.path.splitext(entry.name)[1].lower() in ARTICLE_SUFFIXES
    if not _is_utf8(entry.name):
        # Bytes that are not UTF-8 (a name written in Windows-1256, say): such a path cannot
        # be saved in the index, cited or shown. Renaming the file is the fix.
        return "rejected", NOT_UTF8_NAME
    link = entry.is_symlink()
    try:
        mode = entry.stat().st_mode  # the target's, for a link (cached by scandir)
    except OSError as exc:
        if not is_article:
            return "ignored", ""
        return "rejected", "a broken link" if link else f"cannot be read ({exc.strerror or exc})"
    is_dir = stat.S_ISDIR(mode)
    # Only a link can lead elsewhere: any other entry is where its folder really is.
    real = os.path.realpath(entry.path) if link else os.path.join(above[-1], entry.name)
    if not (is_dir or is_article):
        # Said once, so that a PDF or a Word file dropped into seeds/ is not silently
        # missing from answers; a link out of seeds/ gets no word on what it leads to.
        if stat.S_ISREG(mode) and (not link or _inside(real, root)):
            return "rejected", unsupported_reason(entry.name)
        return "ignored", ""
    if link and not _inside(real, root):
        what = "folder" if is_dir else "file"
        return "rejected", f"a link to a {what} outside {os.path.basename(root)}/"
    if is_dir and real in above:
        return "rejected", "a link to a folder that holds it (a loop)"
    if is_dir:
        return "folder", real
    if not stat.S_ISREG(mode):
        return "rejected", f"{_kind(mode)}, not a file"
    return "file", real


def _is_utf8(name: str) -> bool:
    """False for a name with bytes the file system could not decode (kept as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(name: str) -> str:
    """`name` with what the file system gave as undecodable bytes shown as U+FFFD."""
    return os.fsencode(name).decode("utf-8", "replace")


def _parts(path: str) -> list[str]:
    return path.split(os.sep)
