"""What is indexed: a small manifest over immutable segments (qa/segment.py), as rows to search.

Layout of the index folder:
  manifest.json   format, settings, encoder stamps, segments (with their files' checksums),
                  articles (each with where its rows are: segment, first row, count), skipped
  manifest.log    what each commit since manifest.json was written changed (qa/manifest.py)
  seg-<id>.*      the segments' rows, terms and vectors
  .writer.lock    held by the one writer (qa/lock.py)

A channel is the vectors of one encoder (qa/embedder.py): `main` ranks everything and is
searched through FAISS; the others add evidence for passages in another language
(qa/ranking.py). An update writes a segment for the articles it embedded and a new manifest
that points each changed article at its new rows; rows no article points at are dead, and a
segment is merged away or deleted once it is mostly dead. A commit is one durable append to
manifest.log (or a new manifest.json, switched by atomic rename): a crash at any moment leaves
the previous index whole and usable, and a long `qa index` commits every few hundred passages,
so an interrupted run keeps what it embedded.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import faiss
import numpy as np

from qa.embedder import MAIN, Embedder, EncoderStamp
from qa.errors import ModelMismatch
from qa.lexical import LexicalIndex, release_freed_memory
from qa.passages import Passage
from qa.rows import ranges
from qa.segment import LANGS, Channel, RowFile, Segment

REBUILD = "run `qa index --rebuild` to re-embed everything"

__all__ = ["Channel", "Index", "new_index"]


@dataclass(frozen=True)
class Settings:
    """Everything besides the weights that decides what a vector means."""

    max_tokens: int = 512
    with_title: bool = False
    # How sentence vectors are made: "separate", each sentence embedded on its own; "late",
    # pooled from the passage's own forward pass by an encoder that can (qa/embedder.py
    # `embed_spans`). Late is faster but ranked worse on XQuAD (docs/benchmarks.md).
    sentences: str = "separate"


@dataclass(frozen=True)
class ArticleRecord:
    """An indexed article file, as the manifest keeps it, and where its rows are."""

    sha256: str
    title: str
    encoding: str
    passages: int
    url: str | None = None
    published: str | None = None  # ISO 8601 date
    site: str | None = None
    # For a line of an export (key `file#L<n>`): the whole file's hash, so that an unchanged
    # export is not read again (qa/sync.py); "" while an update of it has lines to embed.
    file_sha256: str | None = None
    segment: str = ""  # the segment holding its rows, from row `first` on
    first: int = 0


@dataclass(frozen=True)
class SkippedRecord:
    """An article file that could not be indexed, and why (so it does not look stale forever)."""

    sha256: str
    reason: str


@dataclass(frozen=True)
class FileStat:
    """An article file as last compared: while its size and modification time stay the same,
    its hash is taken as read then, and the file is not read again (as git does)."""

    size: int
    mtime_ns: int
    sha256: str


@dataclass(frozen=True)
class FileStamp:
    """What a segment file was when written: a changed stat means its checksum is verified."""

    sha256: str
    size: int
    mtime_ns: int
    inode: int


class Passages(Sequence[Passage]):
    """The index's passages in row order, each read from its segment when asked for."""

    def __init__(self, index: Index) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.row_segment)

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        ix = self._index
        segment = ix.segments[ix.row_segment[row]]
        article = ix.article_names[ix.row_article[row]]
        return segment.passage(int(ix.row_local[row]), ix.articles[article].title, article)

    def __iter__(self) -> Iterator[Passage]:
        return (self[i] for i in range(len(self)))


@dataclass
class Index:
    directory: Path
    settings: Settings
    built_at: float
    stamps: dict[str, EncoderStamp]  # channel -> encoder, `main` first
    segments: list[Segment]
    articles: dict[str, ArticleRecord]
    skipped: dict[str, SkippedRecord]
    files: dict[str, FileStamp] = field(default_factory=dict)  # segment files, as committed
    file_stats: dict[str, FileStat] = field(default_factory=dict)  # article files, by path
    # What the manifest files on disk say (qa/manifest.py's `Written`): the next commit
    # appends what changed since to the manifest's log. None: it writes the whole manifest.
    written: object | None = field(default=None, repr=False, compare=False)
    # The live rows, in order: each one's segment and row there, article and language.
    row_segment: np.ndarray = field(init=False, repr=False)
    row_local: np.ndarray = field(init=False, repr=False)
    row_article: np.ndarray = field(init=False, repr=False)  # index into `article_names`
    article_names: list[str] = field(init=False, repr=False)
    langs: np.ndarray = field(init=False, repr=False)  # str per row
    _faiss: faiss.Index | None = field(default=None, init=False, repr=False)
    _by_language: dict | None = field(default=None, init=False, repr=False)
    _matrices: dict | None = field(default=None, init=False, repr=False)
    _lexical: LexicalIndex | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        by_id = {s.id: n for n, s in enumerate(self.segments)}
        parts = []  # (segment number, first, count, article number)
        self.article_names = sorted(self.articles)
        for a, path in enumerate(self.article_names):
            record = self.articles[path]
            parts.append((by_id[record.segment], record.first, record.passages, a))
        parts.sort()
        counts = np.array([p[2] for p in parts], np.int64)
        self.row_segment = np.repeat(np.array([p[0] for p in parts], np.int32), counts)
        self.row_article = np.repeat(np.array([p[3] for p in parts], np.int32), counts)
        starts = np.array([p[1] for p in parts], np.int64)
        self.row_local = ranges(starts, starts + counts)
        lang_code = np.zeros(len(self.row_local), np.int8)
        for n, segment in enumerate(self.segments):
            mask = self.row_segment == n
            lang_code[mask] = segment.lang[self.row_local[mask]]
        self.langs = np.array(LANGS)[lang_code] if len(lang_code) else np.zeros(0, "<U5")

    # ------------------------------------------------------------------ what is indexed

    @property
    def passages(self) -> Passages:
        return Passages(self)

    @property
    def model(self) -> str:
        return self.stamps[MAIN].name

    @property
    def fingerprint(self) -> str:
        return self.stamps[MAIN].fingerprint

    @property
    def dim(self) -> int:
        return self.stamps[MAIN].dim

    def rows_of(self, articles: set[str]) -> np.ndarray:
        """Bool per row: whether it belongs to one of `articles`."""
        wanted = np.array([name in articles for name in self.article_names], bool)
        return wanted[self.row_article] if len(wanted) else np.zeros(0, bool)

    def passages_of(self, article: str) -> list[Passage]:
        """The passages of one article, in row order."""
        record = self.articles.get(article)
        if record is None:
            return []
        segment = next(s for s in self.segments if s.id == record.segment)
        return [
            segment.passage(i, record.title, article)
            for i in range(record.first, record.first + record.passages)
        ]

    # ------------------------------------------------------------------ vectors

    def prefetch(self, channel: str, rows: np.ndarray) -> None:
        """Start reading the passage and sentence vectors of `rows` in `channel` from disk,
        all at once, before `vectors` and `sentence_vectors` ask for them one by one."""
        rows = np.asarray(rows, np.int64)
        for n in np.unique(self.row_segment[rows]).tolist():
            segment = self.segments[n]
            vectors = segment.channels[channel]
            if not isinstance(vectors.passages, RowFile):  # in memory: nothing to read
                continue
            local = self.row_local[rows[self.row_segment[rows] == n]]
            vectors.passages.will_need(local, local + 1)
            starts = segment.sentence_rows[local]
            vectors.sentences.will_need(starts, segment.sentence_rows[local + 1])

    def vectors(self, channel: str, rows: np.ndarray) -> np.ndarray:
        """float32 passage vectors of `rows` in `channel`."""
        rows = np.asarray(rows, np.int64)
        out = np.empty((len(rows), self.stamps[channel].dim), np.float32)
        for n in np.unique(self.row_segment[rows]).tolist():
            mask = self.row_segment[rows] == n
            local = self.row_local[rows[mask]]
            out[mask] = self.segments[n].channels[channel].passages[local]
        return out

    def sentence_vectors(self, channel: str, row: int) -> np.ndarray:
        """float32 vectors of one row's sentences in `channel`."""
        segment = self.segments[self.row_segment[row]]
        local = int(self.row_local[row])
        a, b = segment.sentence_rows[local], segment.sentence_rows[local + 1]
        return np.asarray(segment.channels[channel].sentences[a:b], np.float32)

    def matrices(self, channel: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(passage vectors, sentence vectors, sentence rows) of every live row, in float32:
        the whole collection at once, for tests and experiments (search never needs it)."""
        rows = np.arange(len(self.row_local))
        passages = self.vectors(channel, rows)
        blocks = [self.sentence_vectors(channel, r) for r in rows.tolist()]
        counts = np.array([len(b) for b in blocks], np.int64)
        dim = self.stamps[channel].dim
        sentences = np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float32)
        return passages, sentences, np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    @property
    def channels(self) -> dict[str, Channel]:
        """Every live row's vectors per channel, float32, in memory (with `sentence_rows`): the
        whole collection at once, for experiments on a small one (benchmarks/). Search never
        uses it."""
        return {name: Channel(self.stamps[name], *self._matrix(name)[:2]) for name in self.stamps}

    @property
    def sentence_rows(self) -> np.ndarray:
        """With `channels`: row i's sentences are rows sentence_rows[i]:sentence_rows[i + 1]."""
        return self._matrix(MAIN)[2]

    def _matrix(self, channel: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._matrices is None:
            self._matrices = {}
        if channel not in self._matrices:
            self._matrices[channel] = self.matrices(channel)
        return self._matrices[channel]

    def sentence_spans(self, row: int) -> np.ndarray:
        """(k, 2) offsets of one row's sentences, relative to its text."""
        segment = self.segments[self.row_segment[row]]
        local = int(self.row_local[row])
        a, b = segment.sentence_rows[local], segment.sentence_rows[local + 1]
        return segment.sentences[:, a:b].T

    def language_means(self, channel: str) -> tuple[np.ndarray, np.ndarray]:
        """(sum of live passage vectors per language, count per language), from the segments'
        saved sums less their dead rows: no vector file is read whole."""
        dim = self.stamps[channel].dim
        sums, counts = np.zeros((len(LANGS), dim)), np.zeros(len(LANGS))
        for n, segment in enumerate(self.segments):
            live = np.zeros(segment.rows, bool)
            live[self.row_local[self.row_segment == n]] = True
            sums += segment.lang_sums[channel]
            counts += np.bincount(segment.lang, minlength=len(LANGS))
            dead = np.flatnonzero(~live)
            if len(dead):
                vectors = np.asarray(segment.channels[channel].passages[dead], np.float64)
                np.subtract.at(sums, segment.lang[dead], vectors)
                counts -= np.bincount(segment.lang[dead], minlength=len(LANGS))
        return sums, counts

    @property
    def faiss(self) -> faiss.Index:
        """Exact inner-product search over every live `main` passage vector (tests, tools)."""
        if self._faiss is None:
            self._faiss = self._flat(np.arange(len(self.row_local)))
        return self._faiss

    def by_language(self) -> dict[str, list[tuple[np.ndarray, faiss.Index]]]:
        """Per language, the parts that search its live `main` vectors: (rows, index), the
        index's positions being `rows` (-1: a dead row of an approximate index).

        Retrieval takes the best candidates of each language (qa/retrieve.py); one index per
        language answers that without a per-question filter over every row. A segment with
        many rows of a language searches them with its own approximate index (qa/ann.py);
        the rest of the language is one exact index. Built on first use.
        """
        if self._by_language is None:
            self._by_language = {}
            for lang in sorted(set(self.langs.tolist())):
                rows = np.flatnonzero(self.langs == lang)
                parts = []
                for n, segment in enumerate(self.segments):
                    if lang not in segment.approximate_langs():
                        continue
                    local, approximate = segment.approximate(lang)
                    to_row = np.full(segment.rows, -1, np.int64)
                    mine = np.flatnonzero(self.row_segment == n)
                    to_row[self.row_local[mine]] = mine
                    parts.append((to_row[local], approximate))
                    rows = rows[self.row_segment[rows] != n]
                if len(rows):
                    parts.append((rows, self._flat(rows)))
                self._by_language[lang] = parts
            release_freed_memory()
        return self._by_language

    def _flat(self, rows: np.ndarray) -> faiss.Index:
        # The vectors are stored in float16, so float16 codes are exact: half the memory of a
        # float32 IndexFlatIP, and a search over them ran 2.6x faster (docs/scale.md).
        flat = faiss.IndexScalarQuantizer(
            self.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
        for n, segment in enumerate(self.segments):
            picked = rows[self.row_segment[rows] == n]
            if len(picked):
                local = self.row_local[picked]
                block = segment.channels[MAIN].passages
                whole = len(local) == segment.rows and (np.diff(local) == 1).all()
                vectors = block[:] if whole else block[local]
                for at in range(0, len(vectors), 65536):  # float32 a slice at a time
                    flat.add(np.ascontiguousarray(vectors[at : at + 65536], np.float32))
        return flat

    @property
    def lexical(self) -> LexicalIndex:
        """BM25 over the live rows, searching the segments' saved postings."""
        if self._lexical is None:
            self._lexical = LexicalIndex(
                (segment.postings, self.row_local[self.row_segment == n])
                for n, segment in enumerate(self.segments)
            )
        return self._lexical

    # ------------------------------------------------------------------ checks

    def check_compatible(
        self, embedder: Embedder, settings: Settings | None = None, updating: bool = False
    ) -> None:
        """ModelMismatch unless `embedder` (and `settings`) made these vectors.

        Searching needs the same main encoder; a further channel on one side only is skipped.
        Updating adds rows, so every channel and the settings must match exactly.
        """
        wanted, have = embedder.stamps(), self.stamps
        for name in sorted(set(wanted) | set(have)):
            if wanted.get(name) == have.get(name):
                continue
            if name != MAIN and not updating and None in (wanted.get(name), have.get(name)):
                continue
            raise ModelMismatch(
                f"the index in {self.directory} was made with {_describe(name, have.get(name))}, "
                f"not with {_describe(name, wanted.get(name))}; {REBUILD} with the new model"
            )
        if updating and settings is not None and settings != self.settings:
            raise ModelMismatch(
                f"the index in {self.directory} was built with other settings "
                f"({self.settings}); {REBUILD}"
            )

    def live_rows(self, segment: Segment) -> int:
        n = next(i for i, s in enumerate(self.segments) if s is segment)
        return int((self.row_segment == n).sum())


def _describe(name: str, stamp: EncoderStamp | None) -> str:
    role = "the model" if name == MAIN else f"the {name} encoder"
    return f"no {name} encoder" if stamp is None else f"{role} {stamp.describe()}"


def new_segment_id() -> str:
    return f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"


def new_index(
    directory: Path,
    settings: Settings,
    articles: Mapping[str, ArticleRecord],
    skipped: Mapping[str, SkippedRecord],
    passages: list[Passage],
    channels: dict[str, Channel],
) -> Index:
    """An in-memory index of one segment over `passages` and their vectors in every channel."""
    # A segment keeps each article's rows together.
    order = sorted(range(len(passages)), key=lambda i: passages[i].article)  # stable
    if order != list(range(len(passages))):
        counts = np.array([len(p.sentences) for p in passages], np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        take = np.array(order, np.int64)
        sentence_order = ranges(starts[take], starts[take] + counts[take])
        passages = [passages[i] for i in order]
        channels = {
            name: Channel(c.stamp, c.passages[take], c.sentences[sentence_order])
            for name, c in channels.items()
        }
    segment = Segment.of(new_segment_id(), passages, channels)
    records = dict(articles)
    for i, name in enumerate(segment.articles):
        rows = np.flatnonzero(segment.article == i)
        record = records.get(name) or ArticleRecord("", passages[rows[0]].title, "", 0)
        records[name] = _placed(record, segment.id, int(rows[0]), len(rows))
    return Index(
        directory=directory,
        settings=settings,
        built_at=time.time(),
        stamps={name: c.stamp for name, c in channels.items()},
        segments=[segment],
        articles=records,
        skipped=dict(skipped),
    )


def _placed(record: ArticleRecord, segment: str, first: int, count: int) -> ArticleRecord:
    return replace(record, segment=segment, first=first, passages=count)


# ---------------------------------------------------------------------------- on disk


def committed(
    old: Index | None,
    directory: Path,
    settings: Settings,
    stamps: dict[str, EncoderStamp],
    segments: Sequence[Segment],
    articles: Mapping[str, ArticleRecord],
    skipped: Mapping[str, SkippedRecord],
    replaced: Collection[str] = (),
    file_stats: Mapping[str, FileStat] | None = None,
) -> Index:
    """The index after one commit: `old`'s segments (less those `replaced`, whose rows a new
    segment holds) and the new `segments`; `articles` are all the articles it holds, those
    named in a new segment placed there, the others keeping the place their record says.
    Segments that hold no live row any more are dropped."""
    records = dict(articles)
    for segment in segments:
        for i, name in enumerate(segment.articles):
            rows = np.flatnonzero(segment.article == i)
            records[name] = _placed(records[name], segment.id, int(rows[0]), len(rows))
    used = {r.segment for r in records.values()}
    previous = [s for s in (old.segments if old else []) if s.id not in replaced]
    kept = [s for s in [*previous, *segments] if s.id in used]
    return Index(
        directory=directory,
        settings=settings,
        built_at=time.time(),
        stamps=dict(stamps),
        segments=kept,
        articles=records,
        skipped=dict(skipped),
        files={} if old is None else dict(old.files),
        file_stats=dict(file_stats if file_stats is not None else old.file_stats if old else {}),
        written=None if old is None else old.written,
    )
