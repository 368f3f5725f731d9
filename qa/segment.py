"""An immutable block of indexed passages: their records, terms and vectors, written once.

An update writes one new segment with the rows of the articles it (re-)embedded; it never
rewrites the others (Lucene's design). Files of segment `<id>` in the index folder:
  seg-<id>.rows.npz            per row: article, paragraph, offsets, language, sentences;
                               per channel and language: the sum of the passage vectors
  seg-<id>.text.jsonl          per row, one line: {"text", "section"}; read only for rows shown
  seg-<id>.terms.npz           per row, the lexical terms and counts of its text under its
                               title and subheading (qa/lexical.py, Passage.search_text);
                               and the same by term, the postings that search reads
  seg-<id>.<channel>-passages.npy   float16, one vector per row
  seg-<id>.<channel>-sentences.npy  float16, one vector per sentence of every row
  seg-<id>.main-<lang>.ivf     for a language with many rows here: an approximate index over
                               their `main` vectors (qa/ann.py)
Vectors are read a few rows at a time (RowFile): a question reads only its candidates' rows.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from qa import ann
from qa.embedder import MAIN, EncoderStamp
from qa.lexical import Postings, TermCounts
from qa.passages import Passage
from qa.rows import ranges

LANGS = ("ar", "en", "other")
VECTOR_DTYPE = np.float16  # half the disk and memory of float32; cosines move by ~1e-4


@dataclass
class Channel:
    """One encoder's vectors, row for row with a block of passages and their sentences."""

    stamp: EncoderStamp
    passages: np.ndarray  # (passages, dim)
    sentences: np.ndarray  # (sentences, dim)

    def check(self, name: str, passages: int, sentences: int) -> None:
        """ValueError unless the arrays have the shape the manifest says."""
        for array, rows in ((self.passages, passages), (self.sentences, sentences)):
            if array.ndim != 2 or array.shape != (rows, self.stamp.dim):
                raise ValueError(f"the {name} vectors do not match the manifest")


def sentence_rows(counts: np.ndarray) -> np.ndarray:
    """Row i owns sentences [rows[i], rows[i + 1])."""
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@dataclass
class Segment:
    """Rows of passages with their terms and vectors; in memory, or read from disk (mmap)."""

    id: str
    articles: list[str]  # the articles whose rows are here, in row order
    article: np.ndarray  # int32 per row: index into `articles`
    paragraph: np.ndarray  # int32
    start: np.ndarray  # int64
    end: np.ndarray  # int64
    lang: np.ndarray  # int8 per row: index into LANGS
    sentences: np.ndarray  # int32 (2 x total sentences): offsets relative to the passage text
    sentence_rows: np.ndarray  # int64, rows + 1
    load_terms: Callable[[], TermCounts]  # read when asked for, not kept (for merges)
    channels: dict[str, Channel]
    lang_sums: dict[str, np.ndarray]  # channel -> (len(LANGS), dim) float64 sums of passages
    _text: Callable[[int], tuple[str, str]] = field(repr=False, default=None)  # row -> text
    # Where the approximate indexes are saved (None: in memory, built when first asked for).
    directory: Path | None = field(repr=False, default=None)
    _ann: dict[str, faiss.Index] = field(repr=False, default_factory=dict)
    # The terms by row turned around (saved, or sorted once when first asked for).
    load_postings: Callable[[], Postings] | None = field(repr=False, default=None)
    _postings: Postings | None = field(repr=False, default=None)
    # uint64 (rows x 2) per row: `Passage.reads()`, what the encoders read of it (title left
    # out), so that an update finds a passage it has already embedded (qa/reuse.py). None for
    # a segment written before they were kept, until a merge rewrites its rows. Read from disk
    # only when an update asks (`reads`): a question never needs them.
    _reads: np.ndarray | None = field(repr=False, default=None)
    _load_reads: Callable[[], np.ndarray | None] | None = field(repr=False, default=None)

    @property
    def rows(self) -> int:
        return len(self.article)

    @property
    def reads(self) -> np.ndarray | None:
        if self._load_reads is not None:
            self._reads, self._load_reads = self._load_reads(), None
        return self._reads

    @property
    def terms(self) -> TermCounts:
        """Each row's lexical terms (a segment on disk reads them again each time)."""
        return self.load_terms()

    @property
    def postings(self) -> Postings:
        """Each term's rows: what the lexical index searches."""
        if self._postings is None:
            load = self.load_postings
            self._postings = load() if load is not None else Postings.of(self.terms)
        return self._postings

    def approximate_langs(self) -> list[str]:
        """The languages of which this segment holds enough rows for an approximate index."""
        counts = np.bincount(self.lang, minlength=len(LANGS))
        return [lang for lang, n in zip(LANGS, counts, strict=True) if ann.wanted(int(n))]

    def approximate(self, lang: str) -> tuple[np.ndarray, faiss.Index]:
        """(this segment's rows of `lang`, the approximate index over them, position for
        position): read from its file, or built for a segment not yet written."""
        rows = np.flatnonzero(self.lang == LANGS.index(lang))
        if lang not in self._ann:
            path = None if self.directory is None else self.directory / self._ann_file(lang)
            if path is not None and path.exists():
                self._ann[lang] = ann.read(path)
            else:  # not written yet, or written before approximate indexes existed
                self._ann[lang] = ann.build(self.channels[MAIN].passages[rows])
        return rows, self._ann[lang]

    def _ann_file(self, lang: str) -> str:
        return f"seg-{self.id}.{MAIN}-{lang}.ivf"

    def text(self, row: int) -> tuple[str, str]:
        """(text, section) of a row."""
        return self._text(row)

    def passage(self, row: int, title: str, article: str | None = None) -> Passage:
        """Row `row` as a Passage; `article`: its name now (an export line that moved)."""
        text, section = self.text(row)
        a, b = self.sentence_rows[row], self.sentence_rows[row + 1]
        return Passage(
            article=article or self.articles[self.article[row]],
            title=title,
            paragraph=int(self.paragraph[row]),
            start=int(self.start[row]),
            end=int(self.end[row]),
            text=text,
            lang=LANGS[self.lang[row]],
            sentences=tuple(map(tuple, self.sentences[:, a:b].T.tolist())),
            section=section,
        )

    @classmethod
    def of(cls, id: str, passages: Sequence[Passage], channels: dict[str, Channel]) -> Segment:
        """A segment in memory, for `passages` (grouped by article) and their vectors."""
        articles = list(dict.fromkeys(p.article for p in passages))
        number = {a: i for i, a in enumerate(articles)}
        counts = np.array([len(p.sentences) for p in passages], np.int64)
        langs = np.array([LANGS.index(p.lang) for p in passages], np.int8)
        texts = [(p.text, p.section) for p in passages]
        flat = [s for p in passages for s in p.sentences]
        for name, channel in channels.items():
            channel.check(name, len(passages), int(counts.sum()))
        return cls(
            id=id,
            articles=articles,
            article=np.array([number[p.article] for p in passages], np.int32),
            paragraph=np.array([p.paragraph for p in passages], np.int32),
            start=np.array([p.start for p in passages], np.int64),
            end=np.array([p.end for p in passages], np.int64),
            lang=langs,
            sentences=np.array(flat, np.int32).reshape(-1, 2).T.copy(),
            sentence_rows=sentence_rows(counts),
            load_terms=_constant(TermCounts.of([p.search_text() for p in passages])),
            channels=channels,
            lang_sums={name: _lang_sums(c.passages, langs) for name, c in channels.items()},
            _text=texts.__getitem__,
            _reads=_digests([p.reads() for p in passages]),
        )

    @classmethod
    def merge(cls, id: str, parts: Sequence[tuple[Segment, np.ndarray, list[str]]]) -> Segment:
        """One segment in memory from rows of others: (segment, its rows, their article names
        now), in order. Nothing is embedded or tokenized again."""
        articles: list[str] = []
        number: dict[str, int] = {}
        fields: dict[str, list] = {k: [] for k in ("article", "paragraph", "start", "end", "lang")}
        sentences, counts, texts, terms, reads = [], [], [], [], []
        # Vectors are copied into arrays of the final size (float16, as written): a merge
        # holds one copy of what it merges, not a list of pieces and then their concatenation.
        first = parts[0][0]
        total = sum(len(rows) for _, rows, _ in parts)
        spoken = sum(_sentence_count(segment, rows) for segment, rows, _ in parts)
        vectors = {
            name: (
                np.empty((total, c.stamp.dim), VECTOR_DTYPE),
                np.empty((spoken, c.stamp.dim), VECTOR_DTYPE),
            )
            for name, c in first.channels.items()
        }
        at, sentence_at = 0, 0
        for segment, rows, names in parts:
            rows = np.asarray(rows, np.int64)
            ids = np.array([number.setdefault(n, len(number)) for n in names], np.int32)
            articles = list(number)
            fields["article"].append(ids)
            for k in ("paragraph", "start", "end", "lang"):
                fields[k].append(getattr(segment, k)[rows])
            a, b = segment.sentence_rows[rows], segment.sentence_rows[rows + 1]
            spans = ranges(a, b)
            sentences.append(segment.sentences[:, spans])
            counts.append(b - a)
            texts += [segment.text(int(r)) for r in rows]
            # A segment written before digests were kept gets them now, from its rows.
            reads.append(
                _digests([segment.passage(int(r), "").reads() for r in rows])
                if segment.reads is None
                else segment.reads[rows]
            )
            terms.append(segment.terms.take(rows))
            for name, c in segment.channels.items():
                vectors[name][0][at : at + len(rows)] = c.passages[rows]
                vectors[name][1][sentence_at : sentence_at + len(spans)] = c.sentences[spans]
            at, sentence_at = at + len(rows), sentence_at + len(spans)
        channels = {
            name: Channel(first.channels[name].stamp, p, q) for name, (p, q) in vectors.items()
        }
        lang = np.concatenate(fields["lang"]).astype(np.int8)
        return cls(
            id=id,
            articles=articles,
            article=np.concatenate(fields["article"]),
            paragraph=np.concatenate(fields["paragraph"]),
            start=np.concatenate(fields["start"]),
            end=np.concatenate(fields["end"]),
            lang=lang,
            sentences=np.concatenate(sentences, axis=1),
            sentence_rows=sentence_rows(np.concatenate(counts)),
            load_terms=_constant(TermCounts.concat(terms)),
            channels=channels,
            lang_sums={name: _lang_sums(c.passages, lang) for name, c in channels.items()},
            _text=texts.__getitem__,
            _reads=np.concatenate(reads),
        )

    # ------------------------------------------------------------------ disk

    def files(self) -> list[str]:
        """The names of this segment's files."""
        names = [f"seg-{self.id}.{part}" for part in ("rows.npz", "text.jsonl", "terms.npz")]
        for name in self.channels:
            names += [f"seg-{self.id}.{name}-passages.npy", f"seg-{self.id}.{name}-sentences.npy"]
        return names + [self._ann_file(lang) for lang in self.approximate_langs()]

    def write(self, directory: Path, write: Callable[[Path, Callable], None]) -> None:
        """Write every file of the segment through `write(path, writer)` (atomic, fsynced)."""
        lines = [
            json.dumps({"text": t, "section": s}, ensure_ascii=False).encode() + b"\n"
            for t, s in map(self.text, range(self.rows))
        ]
        offsets = np.concatenate([[0], np.cumsum([len(line) for line in lines])]).astype(np.int64)
        rows = {
            "articles": np.array(self.articles, dtype=str),
            "article": self.article,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
            "lang": self.lang,
            "sentences": self.sentences,
            "sentence_rows": self.sentence_rows,
            "text_offsets": offsets,
            **{f"sums-{name}": sums for name, sums in self.lang_sums.items()},
            **({} if self.reads is None else {"reads": self.reads}),
        }
        prefix = directory / f"seg-{self.id}"
        write(Path(f"{prefix}.rows.npz"), lambda fh: np.savez(fh, **rows))
        write(Path(f"{prefix}.text.jsonl"), lambda fh: fh.writelines(lines))
        terms = {**self.terms.arrays(), **self.postings.arrays()}
        write(Path(f"{prefix}.terms.npz"), lambda fh: np.savez(fh, **terms))
        for name, channel in self.channels.items():
            for role, array in (("passages", channel.passages), ("sentences", channel.sentences)):
                half = np.ascontiguousarray(array, dtype=VECTOR_DTYPE)
                write(
                    Path(f"{prefix}.{name}-{role}.npy"),
                    lambda fh, half=half: np.save(fh, half, allow_pickle=False),
                )
        for lang in self.approximate_langs():
            data = ann.to_bytes(self.approximate(lang)[1])
            write(directory / self._ann_file(lang), lambda fh, data=data: fh.write(data))

    @classmethod
    def read(cls, directory: Path, id: str, stamps: dict[str, EncoderStamp]) -> Segment:
        """Open a segment written by `write`; vectors and text stay on disk until used."""
        prefix = directory / f"seg-{id}"
        with np.load(f"{prefix}.rows.npz", allow_pickle=False) as f:
            rows = {k: f[k] for k in f.files if k != "reads"}

        def load_reads() -> np.ndarray | None:
            with np.load(f"{prefix}.rows.npz", allow_pickle=False) as f:
                return f["reads"] if "reads" in f.files else None

        def load_terms() -> TermCounts:
            with np.load(f"{prefix}.terms.npz", allow_pickle=False) as f:
                return TermCounts.from_arrays({k: f[k] for k in TermCounts.KEYS})

        def load_postings() -> Postings:
            with np.load(f"{prefix}.terms.npz", allow_pickle=False) as f:
                saved = [f"postings-{k}" for k in Postings.KEYS]
                if set(saved) <= set(f.files):  # only these: the counts by row stay on disk
                    return Postings.from_arrays({k: f[k] for k in saved})
            return Postings.of(load_terms())  # saved before postings were

        n = len(rows["article"])
        channels = {}
        for name, stamp in stamps.items():
            arrays = [
                RowFile(Path(f"{prefix}.{name}-{role}.npy")) for role in ("passages", "sentences")
            ]
            channel = Channel(stamp, *arrays)
            channel.check(name, n, int(rows["sentence_rows"][-1]))
            channels[name] = channel
        return cls(
            id=id,
            articles=rows["articles"].tolist(),
            article=rows["article"],
            paragraph=rows["paragraph"],
            start=rows["start"],
            end=rows["end"],
            lang=rows["lang"],
            sentences=rows["sentences"],
            sentence_rows=rows["sentence_rows"],
            load_terms=load_terms,
            channels=channels,
            lang_sums={name: rows[f"sums-{name}"] for name in stamps},
            _text=_TextFile(Path(f"{prefix}.text.jsonl"), rows["text_offsets"]),
            directory=directory,
            load_postings=load_postings,
            _load_reads=load_reads,
        )


class _TextFile:
    """Rows of text read on demand from a segment's text.jsonl.

    The file is opened (mapped) with the segment, so a reader keeps its view even after a
    writer has merged the segment away and deleted the file.
    """

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self.offsets = offsets
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            self._map = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) if size else b""

    def __call__(self, row: int) -> tuple[str, str]:
        line = json.loads(self._map[int(self.offsets[row]) : int(self.offsets[row + 1])])
        return line["text"], line["section"]


class RowFile:
    """A saved .npy matrix read a few rows at a time with `pread`: what a question needs of it
    (its candidates' rows) and nothing more. A memory map would do the same reads, but the
    kernel maps whole page-cache folios around each one, and the process's RSS grows with the
    file; reading leaves the page cache to the kernel. The file stays open, so a reader keeps
    its rows even after a writer has merged the segment away and deleted the file."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            major, _ = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            self._offset = fh.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path.name} is not a row-major matrix")
        self.shape, self.dtype, self.ndim = shape, np.dtype(dtype), 2
        self._row = shape[1] * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __len__(self) -> int:
        return self.shape[0]

    def will_need(self, starts: np.ndarray, stops: np.ndarray) -> None:
        """Say that rows [start, stop) of each pair will be read soon. The kernel starts
        reading all of them from disk at once, in the background, so the `pread`s that follow
        do not each wait for the disk in turn (a question at 1M on a cold page cache: 71 -> 49
        ms, docs/scale.md); with the pages cached, each call costs ~0.5 µs."""
        if not len(starts):
            return
        order = np.argsort(starts)
        starts, stops = starts[order], stops[order]
        apart = starts[1:] != stops[:-1]  # ranges that follow each other are told as one
        starts = starts[np.concatenate([[True], apart])]
        stops = stops[np.concatenate([apart, [True]])]
        for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
            offset = self._offset + start * self._row
            os.posix_fadvise(self._fd, offset, (stop - start) * self._row, os.POSIX_FADV_WILLNEED)

    def _read(self, start: int, stop: int) -> np.ndarray:
        raw = os.pread(self._fd, (stop - start) * self._row, self._offset + start * self._row)
        if len(raw) != (stop - start) * self._row:
            raise OSError(f"a vector file ends early (row {stop} of {self.shape[0]})")
        return np.frombuffer(raw, self.dtype).reshape(stop - start, self.shape[1])

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            if step != 1:
                raise IndexError("rows are read in order")
            return self._read(start, max(start, stop))
        rows = np.asarray(key, np.int64)
        out = np.empty((len(rows), self.shape[1]), self.dtype)
        for i, row in enumerate(rows.tolist()):
            out[i] = self._read(row, row + 1)[0]
        return out


def _digests(digests: list[bytes]) -> np.ndarray:
    """16-byte digests as a (n, 2) uint64 array."""
    return np.frombuffer(b"".join(digests), np.uint64).reshape(-1, 2).copy()


def _sentence_count(segment: Segment, rows: np.ndarray) -> int:
    rows = np.asarray(rows, np.int64)
    return int((segment.sentence_rows[rows + 1] - segment.sentence_rows[rows]).sum())


def _constant(value: TermCounts) -> Callable[[], TermCounts]:
    return lambda: value


def _lang_sums(vectors: np.ndarray, langs: np.ndarray) -> np.ndarray:
    sums = np.zeros((len(LANGS), vectors.shape[1] if vectors.ndim == 2 else 0), np.float64)
    if len(vectors):
        np.add.at(sums, langs, np.asarray(vectors, np.float64))
    return sums
