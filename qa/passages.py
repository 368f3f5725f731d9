"""Paragraphs -> passages that fit the model, each with its exact offsets and sentences.

A paragraph that fits is one passage. A longer one is cut at sentence boundaries (then at
clause boundaries, then between words) into consecutive passages, so nothing is truncated
and every passage still satisfies `article.text[start:end] == text`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from qa.articles import Article
from qa.text import clause_spans, script, sentence_spans, word_spans


@dataclass(frozen=True)
class Passage:
    article: str  # file path relative to the project root
    title: str
    paragraph: int  # 1-based number of the paragraph in its file
    start: int
    end: int
    text: str
    lang: str  # "ar", "en" or "other": the passage's script
    sentences: tuple[tuple[int, int], ...] = field(default=())  # offsets relative to `text`
    section: str = ""  # the subheading the paragraph stands under, if any

    def embed_text(self, with_title: bool) -> str:
        """What the model reads: the passage under its subheading (and the title if asked)."""
        context = [self.title] if with_title and self.title else []
        context += [self.section] if self.section else []
        return "\n".join([*context, self.text])

    def reads(self, with_title: bool = False) -> bytes:
        """A 128-bit digest of what every encoder reads of the passage (its embedded text and
        its sentences): equal digests, equal vectors (qa/reuse.py)."""
        key = hashlib.blake2b(
            self.embed_text(with_title).encode("utf-8", "surrogatepass"), digest_size=16
        )
        key.update(repr((len(self.text), self.sentences)).encode())
        return key.digest()

    def search_text(self) -> str:
        """What lexical search reads: the passage under its title and subheading, which name
        what a paragraph only refers to ("the alliance"). Measured on native Arabic questions
        (ARCD-train dev +0.03 Recall@1; docs/retrieval.md); the vectors stay without the title."""
        return self.embed_text(with_title=True)


def _pieces(text: str, start: int, end: int, fits: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Split text[start:end] into consecutive spans that fit, preferring the coarsest cut."""
    if end - start <= 1 or fits(text[start:end]):
        return [(start, end)]  # a single character is as small as a passage gets
    for splitter in (sentence_spans, clause_spans, word_spans):
        units = splitter(text, start, end)
        if len(units) > 1:
            break
    else:  # one enormous "word": cut it by characters
        half = (start + end) // 2
        return _pieces(text, start, half, fits) + _pieces(text, half, end, fits)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        begin, unit_end = units[i]
        if not fits(text[begin:unit_end]):
            # A unit too long on its own: cut it finer; its last piece can take the units
            # after it.
            *head, (begin, _) = _pieces(text, begin, unit_end, fits)
            spans.extend(head)
        last = _last_that_fits(text, begin, units, i, fits)
        spans.append((begin, units[last][1]))
        i = last + 1
    return spans


def _last_that_fits(
    text: str, begin: int, units: list[tuple[int, int]], first: int, fits: Callable[[str], bool]
) -> int:
    """The last unit that a span from `begin` (which reaches `units[first]` and fits) can
    take and still fit. A span only grows in tokens as it takes more units, so the last one
    is found by galloping, then bisecting: a few token counts per span, not one per unit (a
    paragraph of 100,000 words without a full stop is cut word by word: 33 s a megabyte
    counting once per word)."""

    def reaches(last: int) -> bool:
        return fits(text[begin : units[last][1]])

    good, step = first, 1
    while good + step < len(units) and reaches(good + step):
        good, step = good + step, step * 2
    bad = min(good + step, len(units))  # the first known not to fit, or past the end
    while bad - good > 1:
        middle = (good + bad) // 2
        if reaches(middle):
            good = middle
        else:
            bad = middle
    return good


def make_passages(
    article: Article, count_tokens: Callable[[str], int], max_tokens: int
) -> list[Passage]:
    """Cut an article's body paragraphs into passages of at most `max_tokens` model tokens."""

    passages = []
    for section, paragraph in article.sections():
        if count_tokens(section) > max_tokens // 4:
            section = ""  # a "heading" this long would crowd out the text it heads

        def fits(text: str, section: str = section) -> bool:
            # The subheading is read along with the passage, so it shares the budget.
            return count_tokens(f"{section}\n{text}" if section else text) <= max_tokens

        for start, end in _pieces(article.text, paragraph.start, paragraph.end, fits):
            text = article.text[start:end]
            sentences = tuple(
                (a - start, b - start) for a, b in sentence_spans(article.text, start, end)
            )
            passages.append(
                Passage(
                    article=article.path,
                    title=article.title,
                    paragraph=paragraph.number,
                    start=start,
                    end=end,
                    text=text,
                    lang=script(text),
                    sentences=sentences or ((0, len(text)),),
                    section=section,
                )
            )
    return passages
