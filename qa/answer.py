"""Hits -> an Answer: the answering sentence, numbered citations, or a plain "not found"."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from qa.errors import EmptyQuestion
from qa.index import ArticleRecord, Index
from qa.retrieve import Hit, Retriever
from qa.text import has_words, script

# Longer questions are cut (with a notice): no real question is this long, and the model
# reads at most 512 tokens anyway.
MAX_QUESTION_CHARS = 1000
# "Not found" is decided on the best hit's `confidence` (qa/ranking.py) against the retriever's
# `weights.not_found_below`.

NOT_FOUND = {
    "ar": "لم أجد إجابة لهذا السؤال في المقالات.",
    "en": "Not found in the articles.",
}
# Said before an answer that only the cross-language evidence let through (`low_confidence`).
LOW_CONFIDENCE = {
    "ar": "أقرب فقرة، بثقة منخفضة:",
    "en": "Closest passage, low confidence:",
}


@dataclass(frozen=True)
class Copy:
    """Another article that carries the cited passage (a syndicated copy, a re-publication)."""

    file: str
    title: str
    url: str | None = None
    published: str | None = None  # ISO 8601 date
    site: str | None = None

    def to_json(self) -> dict:
        return {"file": self.file, "url": self.url, "published": self.published}


@dataclass(frozen=True)
class Citation:
    rank: int
    file: str  # the article: a path, or `path#L<n>` for line n of a JSON Lines export
    paragraph: int
    start: int
    end: int
    score: float
    text: str
    title: str
    sentence: tuple[int, int]  # the answering sentence, offsets relative to `text`
    # What the page or export says about the article (None where it does not say).
    url: str | None = None
    published: str | None = None  # ISO 8601 date
    site: str | None = None
    also_in: tuple[Copy, ...] = ()  # other articles with the same passage, best copy first

    @property
    def sentence_text(self) -> str:
        return self.text[self.sentence[0] : self.sentence[1]]


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    answer: str | None
    citations: list[Citation]  # empty when not answered
    nearest: list[Citation] = field(default_factory=list)  # closest passages when not answered
    notices: list[str] = field(default_factory=list)
    language: str = "en"  # the question's script, for replies in the reader's language
    # Answered, but the main model alone would have refused: the passage is in another language
    # and what let it through is the second encoder's evidence (README, "Refusing across
    # languages"). Shown as "closest passage, low confidence" rather than refused.
    low_confidence: bool = False

    @property
    def low_confidence_label(self) -> str:
        return LOW_CONFIDENCE["ar" if self.language == "ar" else "en"]

    def to_json(self) -> dict:
        """The stable `qa ask --json` contract."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "low_confidence": self.low_confidence,
            "citations": [
                {
                    "rank": c.rank,
                    "file": c.file,
                    "paragraph": c.paragraph,
                    "start": c.start,
                    "end": c.end,
                    "score": round(c.score, 4),
                    "text": c.text,
                    "title": c.title,
                    "url": c.url,
                    "published": c.published,
                    "site": c.site,
                    "also_in": [copy.to_json() for copy in c.also_in],
                }
                for c in self.citations
            ],
        }

    @property
    def not_found_message(self) -> str:
        return NOT_FOUND["ar" if self.language == "ar" else "en"]


def clean_question(question: str) -> tuple[str, list[str]]:
    """The question as it will be searched, plus notices for the user; EmptyQuestion if blank."""
    # Text that is not valid Unicode (lone surrogates from undecodable command-line bytes)
    # becomes U+FFFD rather than reaching the tokenizer.
    question = question.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    question = " ".join(question.split())
    if not has_words(question):
        raise EmptyQuestion("the question is empty: type a question with at least one word")
    notices = []
    if len(question) > MAX_QUESTION_CHARS:
        notices.append(
            f"the question is {len(question):,} characters long; only its first "
            f"{MAX_QUESTION_CHARS:,} were used"
        )
        question = question[:MAX_QUESTION_CHARS]
    return question, notices


def _citation(rank: int, hit: Hit, index: Index) -> Citation:
    p = hit.passage
    about = index.articles.get(p.article) or _UNKNOWN
    also_in: dict[str, Copy] = {}
    for row in hit.copies:
        path = index.passages[row].article
        if path != p.article and path not in also_in:
            record = index.articles.get(path) or _UNKNOWN
            also_in[path] = Copy(
                path, index.passages[row].title, record.url, record.published, record.site
            )
    return Citation(
        rank=rank,
        file=p.article,
        paragraph=p.paragraph,
        start=p.start,
        end=p.end,
        score=hit.score,
        text=p.text,
        title=p.title,
        sentence=hit.sentence,
        url=about.url,
        published=about.published,
        site=about.site,
        also_in=tuple(also_in.values()),
    )


_UNKNOWN = ArticleRecord(sha256="", title="", encoding="", passages=0)


def answer_question(
    retriever: Retriever,
    question: str,
    k: int = 3,
    articles: Collection[str] | None = None,
    threshold: float | None = None,
    context: str | None = None,
) -> Answer:
    """Answer `question` from the index, citing the `k` best passages.

    `context` is the previous question of a conversation: a short follow-up ("and when did
    it end?") is searched in its light, so that "it" finds what it refers to.
    """
    question, notices = clean_question(question)
    threshold = retriever.weights.not_found_below if threshold is None else threshold
    hits = retriever.search(question, k=k, articles=articles, context=context)
    citations = [_citation(rank, hit, retriever.index) for rank, hit in enumerate(hits, start=1)]
    language = script(question)
    if not hits or hits[0].confidence < threshold:
        return Answer(
            question, False, None, [], nearest=citations, notices=notices, language=language
        )
    top = hits[0]
    # What the main model alone says about a passage in another language (qa/ranking.py's
    # confidence without the further encoders' evidence).
    main_only = (top.dense + top.sentence_score) / 2 + retriever.weights.cross_lingual_offset
    return Answer(
        question,
        True,
        citations[0].sentence_text,
        citations,
        notices=notices,
        language=language,
        low_confidence=top.cross_lingual and main_only < threshold,
    )
