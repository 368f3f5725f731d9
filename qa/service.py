"""The chat's library: one loaded model and index per server, questions in, replies out.

Everything the browser chat does besides drawing lives here, so that `app.py` stays a thin
Streamlit script and this module never imports Streamlit: it loads the embedder once, keeps
the index fresh (reloading it when `qa index` or the Re-embed button replaces it), compares it
with seeds/, answers a question in the context of the previous one, lays out each cited
passage in its article (the paragraphs around it, the answering sentence marked), and says
what a card shows about an article: its date in the asker's language, a link only when safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from qa.answer import Answer, Citation, answer_question
from qa.changes import Changes, diff, scan_seeds
from qa.config import Config
from qa.embedder import Embedder
from qa.errors import SeedsMissing
from qa.formats import http_url
from qa.index import Index
from qa.manifest import commit_stamp, load_index
from qa.passages import Passage
from qa.ranking import SHIPPED
from qa.retrieve import Retriever
from qa.sync import Progress, UpdateReport, update_index
from qa.text import normalize, script


def open_library(config: Config) -> Library:
    """Load the model (the slow part: seconds) once for the server, and warm it up so that
    the first answer is as quick as the next. Tests replace this to chat with a fake embedder.
    """
    from qa.embedder import load_embedder

    embedder = load_embedder(config)
    for encoder in embedder.encoders:
        encoder.embed(["warm up"], "query")
    return Library(config, embedder)


# ---------------------------------------------------------------------------- index status


@dataclass(frozen=True)
class IndexStatus:
    """What the sidebar says about the index, and how it compares with seeds/."""

    model: str
    fingerprint: str
    built_at: float  # seconds since the epoch
    articles: dict[str, str]  # path -> title, of the indexed articles
    passages: int
    skipped: dict[str, str]  # path -> why it could not be indexed
    changes: Changes | None  # None when seeds/ cannot be read
    seeds_problem: str | None = None  # why seeds/ cannot be read
    dates: dict[str, date] = field(default_factory=dict)  # path -> published, of dated articles
    ignored: list[str] = field(default_factory=list)  # files in seeds/ left out, and why
    checked: float = 0.0  # when seeds/ was compared (time.monotonic()): a slow one is reused

    @property
    def stale(self) -> bool:
        return self.changes is not None and not self.changes.in_sync

    @cached_property
    def folded(self) -> list[tuple[str, str]]:
        """(path, its title and file name folded as search folds them), in path order: what
        "Find articles" looks in. Folded once per status: at 200,000 articles that is 0.5 s,
        and then 10 ms a search instead of 0.7-1.4 s."""
        return [
            (path, normalize(f"{title} {path.rsplit('/', 1)[-1]}"))
            for path, title in self.articles.items()
        ]


# ---------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Span:
    text: str
    marked: bool = False  # the answering sentence


@dataclass(frozen=True)
class SourceParagraph:
    """One indexed paragraph of an article, cut into spans so the answer can be marked."""

    number: int  # 1-based paragraph number in the file, as citations give it
    section: str  # the subheading it stands under
    spans: tuple[Span, ...]

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.spans)

    @property
    def lang(self) -> str:
        return script(self.text)


@dataclass(frozen=True)
class Source:
    """A citation in its article: the cleaned paragraphs as indexed, and which one is cited."""

    citation: Citation
    title: str
    paragraphs: tuple[SourceParagraph, ...]
    at: int  # paragraphs[at] holds the cited passage

    @property
    def cited(self) -> SourceParagraph:
        return self.paragraphs[self.at]

    @property
    def before(self) -> SourceParagraph | None:
        return self.paragraphs[self.at - 1] if self.at > 0 else None

    @property
    def after(self) -> SourceParagraph | None:
        return self.paragraphs[self.at + 1] if self.at + 1 < len(self.paragraphs) else None


def _marked_spans(passage_text: str, sentence: tuple[int, int]) -> list[Span]:
    a, b = sentence
    parts = [Span(passage_text[:a]), Span(passage_text[a:b], marked=True), Span(passage_text[b:])]
    return [s for s in parts if s.text]


def locate(citation: Citation, passages: Iterable[Passage]) -> Source:
    """Lay out `citation` in its article, given the article's indexed passages.

    A long paragraph is indexed as several passages; they are joined back into one paragraph
    here. When the cited passage is not among `passages` (the index has changed since), the
    source is the cited passage alone.
    """
    paragraphs: dict[int, list[Passage]] = {}
    for p in sorted((p for p in passages if p.article == citation.file), key=lambda p: p.start):
        paragraphs.setdefault(p.paragraph, []).append(p)
    laid_out, at = [], None
    for number, parts in paragraphs.items():
        spans: list[Span] = []
        for p in parts:
            if spans:
                spans.append(Span(" "))  # the passages of one paragraph were cut at sentence ends
            if (p.start, p.end) == (citation.start, citation.end):
                at = len(laid_out)
                spans.extend(_marked_spans(p.text, citation.sentence))
            else:
                spans.append(Span(p.text))
        laid_out.append(SourceParagraph(number, parts[0].section, tuple(spans)))
    if at is None:
        spans = _marked_spans(citation.text, citation.sentence)
        alone = SourceParagraph(citation.paragraph, "", tuple(spans))
        return Source(citation, citation.title, (alone,), 0)
    return Source(citation, citation.title, tuple(laid_out), at)


# ---------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Relevance:
    """A score as a reader reads it: a level and a bar length (0..1)."""

    level: str  # "strong", "good" or "weak"
    fraction: float


def relevance(score: float, threshold: float = SHIPPED.not_found_below) -> Relevance:
    """Place `score` against the not-found threshold: at it a passage answers, just barely."""
    floor = threshold - 0.15  # the bar starts here; anything lower is an empty bar
    fraction = min(1.0, max(0.0, (score - floor) / (1.0 - floor)))
    level = "strong" if score >= threshold + 0.05 else "good" if score >= threshold else "weak"
    return Relevance(level, fraction)


def rate(answer: Answer, threshold: float = SHIPPED.not_found_below) -> tuple[Relevance, ...]:
    """The relevance of each cited (or nearest) passage, never contradicting the answer.

    The library decides "answered" on more than the rank score (e.g. an allowance for a passage
    in another language than the question), so the scores are read against the threshold the
    answer actually passed or failed: an answer's first citation is never "weak", and the
    nearest passages of a "not found" never look like answers.
    """
    cited = answer.citations if answer.answered else answer.nearest
    if not cited:
        return ()
    top = cited[0].score
    passed = min(threshold, top) if answer.answered else max(threshold, top + 1e-6)
    return tuple(relevance(c.score, passed) for c in cited)


@dataclass(frozen=True)
class Reply:
    """One answer of the chat, with every cited (or nearest) passage laid out in its article."""

    answer: Answer
    sources: tuple[Source, ...]  # for answer.citations, or answer.nearest when not answered
    relevance: tuple[Relevance, ...]  # one per source

    @property
    def text(self) -> str:
        """The answering sentence, or "not found" in the asker's language."""
        return self.answer.answer if self.answer.answered else self.answer.not_found_message


# ---------------------------------------------------------------------------- the library

SLOW_COMPARISON_S = 0.5  # comparing seeds/ with the index this slow is reused for a while...
REUSE_FACTOR = 20  # ...for this many times as long as it took


@dataclass(frozen=True)
class _Comparison:
    index: Index  # the index compared with (a new one is compared again)
    at: float  # time.monotonic() when it started
    took: float  # seconds
    changes: Changes | None
    problem: str | None
    ignored: list[str]


@dataclass
class Library:
    """One embedder and one index shared by every chat of a server process."""

    config: Config
    embedder: Embedder
    threshold: float | None = None  # below it "not found"; None: the model's calibrated default
    _retriever: Retriever | None = field(default=None, repr=False)
    # The loaded index's commit stamp (qa/manifest.py), to spot a new commit.
    _loaded_manifest: tuple[int, ...] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _comparison: _Comparison | None = field(default=None, repr=False)  # the last one, for reuse

    @property
    def retriever(self) -> Retriever:
        """The retriever over the current index, (re)loaded when the index on disk changed.

        Raises IndexMissing, IndexDamaged or ModelMismatch.
        """
        on_disk = commit_stamp(self.config.index_dir)
        if self._retriever is None or on_disk != self._loaded_manifest:
            with self._lock:
                index = load_index(self.config.index_dir)
                self._retriever = Retriever(index, self.embedder)
                self._loaded_manifest = on_disk
        return self._retriever

    @property
    def index(self) -> Index:
        return self.retriever.index

    def status(self) -> IndexStatus:
        """The loaded index, and how it differs from seeds/ (now, or a few seconds ago for
        an archive: see `_compare`)."""
        index = self.index
        seen = self._compare(index)
        changes, problem, ignored = seen.changes, seen.problem, seen.ignored
        return IndexStatus(
            model=index.model,
            fingerprint=index.fingerprint,
            built_at=index.built_at,
            articles={path: a.title for path, a in sorted(index.articles.items())},
            passages=len(index.passages),
            skipped={path: s.reason for path, s in sorted(index.skipped.items())},
            changes=changes,
            seeds_problem=problem,
            dates={p: d for p, a in index.articles.items() if (d := parse_date(a.published))},
            ignored=ignored,
            checked=seen.at,
        )

    def _compare(self, index: Index) -> _Comparison:
        """seeds/ compared with `index`. The chat asks on every rerun; a comparison that took
        SLOW_COMPARISON_S or more (tens of thousands of files) is reused for REUSE_FACTOR
        times as long as it took, so that listing seeds/ costs at most 1/REUSE_FACTOR of the
        time (at 200,000 files: 3 s, reused for a minute)."""
        now = time.monotonic()
        last = self._comparison
        if (
            last is not None
            and last.index is index
            and last.took >= SLOW_COMPARISON_S
            and now - last.at < REUSE_FACTOR * last.took
        ):
            return last
        changes, problem, ignored = None, None, []
        try:
            changes = diff(index, scan_seeds(self.config.seeds, ignored))
        except SeedsMissing as exc:
            problem = str(exc)
        took = time.monotonic() - now
        self._comparison = _Comparison(index, now, took, changes, problem, ignored)
        return self._comparison

    def update(self, rebuild: bool = False, progress: Progress | None = None) -> UpdateReport:
        """Re-embed new and changed articles (or everything) and answer from the new index."""
        with self._lock:
            config = self.config
            # A page must not hang on another writer (a `qa index` in a terminal): refuse at
            # once with IndexBusy, which says to try again.
            report = update_index(
                config.seeds,
                config.index_dir,
                self.embedder,
                rebuild=rebuild,
                progress=progress,
                wait=0,
            )
            self._retriever = None  # the next question loads the new index
        return report

    def ask(
        self,
        question: str,
        k: int = 3,
        articles: Collection[str] | None = None,
        previous: str | None = None,
    ) -> Reply:
        """Answer `question`; `previous` is the question before it in the same chat.

        `articles`: the articles to search (None: all of them; empty: none, so "not found").
        Raises EmptyQuestion (and the index errors of `retriever`).
        """
        retriever = self.retriever
        answer = answer_question(
            retriever,
            question,
            k=k,
            articles=articles,
            threshold=self.threshold,
            context=previous,
        )
        cited = answer.citations if answer.answered else answer.nearest
        passages = retriever.index.passages
        threshold = retriever.weights.not_found_below if self.threshold is None else self.threshold
        return Reply(
            answer,
            sources=tuple(locate(c, passages) for c in cited),
            relevance=rate(answer, threshold),
        )


def describe(changes: Changes) -> str:
    """ "1 new, 2 changed, 1 removed": a stale index in a few words."""
    stale = changes.stale.items()
    return ", ".join(f"{len(paths)} {kind}" for kind, paths in stale if paths) or "in sync"


def ago(timestamp: float, now: float | None = None) -> str:
    """How long ago `timestamp` was, the way people say it: "just now", "5 minutes ago"."""
    seconds = max(0, int((time.time() if now is None else now) - timestamp))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n > 1 else ''} ago"
    return "just now"


# ---------------------------------------------------------------------------- article details

MONTHS = {
    "en": (
        "January February March April May June July August September October November December"
    ).split(),
    "ar": "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split(),
}


def parse_date(published: str | None) -> date | None:
    """The date of an ISO 8601 publication date ('2024-09-10'), or None."""
    try:
        return date.fromisoformat(published) if published else None
    except ValueError:
        return None


def format_date(published: str | None, language: str) -> str | None:
    """A publication date as the asker reads it: "10 September 2024", "10 سبتمبر 2024"."""
    day = parse_date(published)
    if day is None:
        return None
    month = MONTHS["ar" if language == "ar" else "en"][day.month - 1]
    return f"{day.day} {month} {day.year}"


def web_link(url: str | None) -> str | None:
    """`url` when it is an absolute http(s) address, the only kind a card links to; else None.

    The readers' rule (qa/blocks.py), applied again when drawing: an index made by another
    version, or edited by hand, must not put a javascript: link on the page.
    """
    return http_url(url)


def select_articles(
    status: IndexStatus,
    chosen: Collection[str] = (),
    since: date | None = None,
    until: date | None = None,
    undated: bool = True,
) -> list[str] | None:
    """The articles to search: those `chosen` (all when none are) published between `since`
    and `until`, and those without a date unless `undated` is False; None when that is all."""
    if not chosen and since is None and until is None and undated:
        return None
    picked = []
    for path in chosen or status.articles:
        day = status.dates.get(path)
        if day is None:
            keep = undated
        else:
            keep = (since is None or day >= since) and (until is None or day <= until)
        if keep:
            picked.append(path)
    return picked


# The sidebar lists at most this many articles to choose from (a list is sent to the browser
# on every rerun: 200,000 titles are megabytes); past it, a reader types to find the others.
MAX_LISTED = 1000


def listed_articles(status: IndexStatus, find: str = "", chosen: Collection[str] = ()) -> list[str]:
    """The articles to offer in the sidebar: those already `chosen`, then, in path order, up
    to MAX_LISTED whose title or file name holds every word of `find`, Arabic folded as
    search folds it (أ/إ/آ, ى, ة, marks and tatweel)."""
    words = normalize(find).split()
    offered = [a for a in chosen if a in status.articles]
    taken = set(offered)
    if words:
        first, rest = words[0], words[1:]  # most searches are one word: no all() per article
        matching = (
            p for p, folded in status.folded if first in folded and all(w in folded for w in rest)
        )
    else:
        matching = iter(status.articles)
    found = 0
    for path in matching:
        if found >= MAX_LISTED:
            break
        if path in taken:
            continue
        offered.append(path)
        found += 1
    return offered
