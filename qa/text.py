"""Arabic/English text helpers: search normalization, script detection, sentence spans.

Everything here is pure and works on offsets into the original string, so that what is found
in normalized text can always be cited in the text as written.
"""

from __future__ import annotations

import re
import unicodedata

# Harakat, Quranic marks, superscript alef: they change the look, not the word.
DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
TATWEEL = "\u0640"
# Half of a UTF-16 pair on its own is not a character: it cannot be encoded (the stemmer and
# every file format need UTF-8), so search text leaves it out rather than failing on it.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ARABIC_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ٲ": "ا",
        "ٳ": "ا",
        "ى": "ي",
        "ئ": "ي",
        "ؤ": "و",
        "ة": "ه",
        "ک": "ك",
        "ی": "ي",
        "ھ": "ه",
        # Arabic-Indic and Persian digits read as the same numbers as ASCII digits.
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
        TATWEEL: None,
    }
)

_ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff]")
_LATIN_LETTER = re.compile("[A-Za-z\u00c0-\u024f]")
_WORD = re.compile(r"\w", re.UNICODE)


def normalize(text: str) -> str:
    """Fold text the way Arabic search engines do, for matching only (never for display).

    Hamza/alef forms become ا, ى becomes ي, ة becomes ه, diacritics and tatweel go,
    Arabic-Indic digits become ASCII, Latin is case-folded and NFKC-normalized; lone
    surrogates (not characters) are left out.
    """
    text = unicodedata.normalize("NFKC", LONE_SURROGATE.sub("", text))
    text = DIACRITICS.sub("", text)
    return text.translate(_ARABIC_FOLD).casefold()


def script(text: str) -> str:
    """The dominant script of `text`: "ar", "en" (Latin) or "other" (no letters of either)."""
    arabic = len(_ARABIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    if arabic == 0 and latin == 0:
        return "other"
    return "ar" if arabic >= latin else "en"


def has_words(text: str) -> bool:
    """True when `text` holds at least one letter or digit (not only spaces and punctuation)."""
    return bool(_WORD.search(text.replace("_", "")))


# A sentence ends at . ! ? ؟ … (and ؛, which Arabic news uses between full clauses), when
# followed by space or the end. "3.5", "U.S." and "سبتمبر/أيلول" are not ends.
SENTENCE_END = re.compile(r"(?<!\b[A-Z])[.!?؟…؛]+[\"'»”)\]]*(?=\s|$)")
# Clause boundaries, for a sentence that alone is still too long for the model.
_CLAUSE_END = re.compile(r"[،,;:؛]+(?=\s)")
# Windows, Unix and old Mac line ends: a file keeps whichever it was written with.
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _spans(text: str, boundary: re.Pattern[str], start: int = 0, end: int | None = None):
    end = len(text) if end is None else end
    pieces: list[tuple[int, int]] = []
    pos = start
    for match in boundary.finditer(text, start, end):
        pieces.append((pos, match.end()))
        pos = match.end()
    pieces.append((pos, end))
    return [trim_span(text, a, b) for a, b in pieces if text[a:b].strip()]


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """(start, end) narrowed so that text[start:end] has no whitespace at either end."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of text[start:end], whitespace trimmed.

    Line breaks inside a paragraph also end a sentence (lists, headings, quotes).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line_start, line_end in line_spans(text, start, end):
        spans.extend(_spans(text, SENTENCE_END, line_start, line_end))
    return spans


def line_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the non-blank lines of text[start:end], whitespace trimmed."""
    return _spans(text, LINE_BREAK, start, end)


def clause_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the comma/semicolon clauses of text[start:end]."""
    return _spans(text, _CLAUSE_END, start, end)


def word_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the whitespace-separated words of text[start:end]."""
    end = len(text) if end is None else end
    return [(m.start(), m.end()) for m in re.compile(r"\S+").finditer(text, start, end)]
