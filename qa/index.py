"""The index in embeddings/ and its manifest: what a vector means, load, save atomically.

Layout of the index folder:
  manifest.json                 format, settings, encoder stamps, articles, skipped files, rows
  <channel>-passages-<gen>.npy  one L2-normalized vector per passage, by that channel's encoder
  <channel>-sentences-<gen>.npy one vector per sentence of every passage (answer, ranking)

A channel is the vectors of one encoder (qa/embedder.py): `main` ranks everything and is
searched through FAISS; the others add evidence for passages in another language
(qa/ranking.py). Save, load, check and splice loop over channels.

A save writes new `<gen>` files beside the old ones and then replaces manifest.json in one
atomic rename: a crash or Ctrl-C at any moment leaves the previous index whole and usable.
Keeping the index in line with seeds/ (what changed, embedding only that) is qa/sync.py.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np

from qa.articles import file_sha256
from qa.embedder import MAIN, Embedder, EncoderStamp
from qa.errors import IndexDamaged, IndexMissing, IndexUnwritable, ModelMismatch
from qa.passages import Passage

FORMAT = 2  # 2: vectors as named channels
MANIFEST = "manifest.json"
REBUILD = "run `qa index --rebuild` to re-embed everything"


@dataclass(frozen=True)
class Settings:
    """Everything besides the weights that decides what a vector means."""

    max_tokens: int = 512
    with_title: bool = False


@dataclass(frozen=True)
class ArticleRecord:
    """An indexed article file, as the manifest keeps it."""

    sha256: str
    title: str
    encoding: str
    passages: int
    url: str | None = None
    published: str | None = None  # ISO 8601 date
    site: str | None = None


@dataclass(frozen=True)
class SkippedRecord:
    """An article file that could not be indexed, and why (so it does not look stale forever)."""

    sha256: str
    reason: str


@dataclass
class Channel:
    """One encoder's vectors, row for row with the index's passages and sentences."""

    stamp: EncoderStamp
    passages: np.ndarray  # (passages, dim) float32
    sentences: np.ndarray  # (sentences, dim) float32

    def check(self, name: str, passages: int, sentences: int) -> None:
        """ValueError unless the arrays have the shape the manifest says."""
        for array, rows in ((self.passages, passages), (self.sentences, sentences)):
            if array.ndim != 2 or array.shape != (rows, self.stamp.dim):
                raise ValueError(f"the {name} vectors do not match the manifest")


def sentence_rows(passages: list[Passage]) -> np.ndarray:
    """Passage i owns sentence rows [rows[i], rows[i + 1])."""
    counts = [len(p.sentences) for p in passages]
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


@dataclass
class Index:
    directory: Path
    settings: Settings
    built_at: float
    articles: dict[str, ArticleRecord]
    skipped: dict[str, SkippedRecord]
    passages: list[Passage]
    channels: dict[str, Channel]  # `main` first
    sentence_rows: np.ndarray = field(init=False)
    faiss: faiss.Index = field(init=False, repr=False)  # exact inner-product search over `main`

    def __post_init__(self) -> None:
        self.sentence_rows = sentence_rows(self.passages)
        main = self.channels[MAIN]
        self.faiss = faiss.IndexFlatIP(main.stamp.dim)
        if len(main.passages):
            self.faiss.add(main.passages)

    @property
    def main(self) -> Channel:
        return self.channels[MAIN]

    @property
    def model(self) -> str:
        return self.main.stamp.name

    @property
    def fingerprint(self) -> str:
        return self.main.stamp.fingerprint

    @property
    def dim(self) -> int:
        return self.main.stamp.dim

    def sentences_of(self, row: int) -> slice:
        return slice(int(self.sentence_rows[row]), int(self.sentence_rows[row + 1]))

    def check_compatible(
        self, embedder: Embedder, settings: Settings | None = None, updating: bool = False
    ) -> None:
        """ModelMismatch unless `embedder` (and `settings`) made these vectors.

        Searching needs the same main encoder; a further channel on one side only is skipped.
        Updating adds rows, so every channel and the settings must match exactly.
        """
        wanted = embedder.stamps()
        have = {name: c.stamp for name, c in self.channels.items()}
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

    def select(self, rows: np.ndarray) -> tuple[list[Passage], dict[str, Channel]]:
        """The passages at `rows` (in that order) with their vectors in every channel."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.sentence_rows[rows], self.sentence_rows[rows + 1]
        sentences = _ranges(starts, ends)
        channels = {
            name: Channel(c.stamp, c.passages[rows], c.sentences[sentences])
            for name, c in self.channels.items()
        }
        return [self.passages[i] for i in rows.tolist()], channels


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of range(s, e) for each pair, without a Python loop."""
    lengths = ends - starts
    if not lengths.sum():
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(lengths.sum(), dtype=np.int64) + offsets


def _describe(name: str, stamp: EncoderStamp | None) -> str:
    role = "the model" if name == MAIN else f"the {name} encoder"
    return f"no {name} encoder" if stamp is None else f"{role} {stamp.describe()}"


def empty_channels(embedder: Embedder) -> dict[str, Channel]:
    return {
        name: Channel(stamp, *(np.zeros((0, stamp.dim), np.float32) for _ in range(2)))
        for name, stamp in embedder.stamps().items()
    }


def concat_channels(parts: list[dict[str, Channel]]) -> dict[str, Channel]:
    """Row blocks of the same channels, one after the other."""
    first = parts[0]
    return {
        name: Channel(
            c.stamp,
            np.concatenate([p[name].passages for p in parts]).astype(np.float32, copy=False),
            np.concatenate([p[name].sentences for p in parts]).astype(np.float32, copy=False),
        )
        for name, c in first.items()
    }


# ---------------------------------------------------------------------------- on disk


def _manifest_error(directory: Path, why: object) -> IndexDamaged:
    return IndexDamaged(f"the index in {directory} is damaged ({why}); {REBUILD}")


def load_index(directory: Path) -> Index:
    """Read the index in `directory`; IndexMissing if there is none, IndexDamaged if unreadable.

    A writer may replace the index while it is read (and then delete the old generation's
    files): a read that fails while manifest.json changed under it is simply done again.
    """
    for _ in range(3):
        before = _manifest_stamp(directory)
        try:
            return _load(directory)
        except IndexDamaged:
            if _manifest_stamp(directory) == before:
                raise
    return _load(directory)


def _manifest_stamp(directory: Path) -> tuple[int, int] | None:
    try:
        st = (directory / MANIFEST).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _load(directory: Path) -> Index:
    manifest_file = directory / MANIFEST
    if not manifest_file.exists():
        raise IndexMissing(f"no index in {directory}: run `qa index` to build it from the articles")
    try:
        m = json.loads(manifest_file.read_text(encoding="utf-8"))
        if not isinstance(m, dict):
            raise ValueError("the manifest is not a JSON object")
        if m.get("format") != FORMAT:
            raise ValueError(f"format {m.get('format')!r} of an older qa, expected {FORMAT}")
        passages = [_passage(r) for r in m["rows"]]
        titles = {path: a["title"] for path, a in m["articles"].items()}
        passages = [_with_title(p, titles[p.article]) for p in passages]
        rows = sentence_rows(passages)
        channels = {name: _load_channel(directory, c) for name, c in m["channels"].items()}
        if MAIN not in channels:
            raise ValueError("no main channel")
        for name, channel in channels.items():
            channel.check(name, len(passages), int(rows[-1]))
        return Index(
            directory=directory,
            settings=Settings(**m["settings"]),
            built_at=m["built_at"],
            articles={p: ArticleRecord(**a) for p, a in m["articles"].items()},
            skipped={p: SkippedRecord(**s) for p, s in m["skipped"].items()},
            passages=passages,
            channels={MAIN: channels.pop(MAIN), **channels},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:
        raise _manifest_error(directory, exc) from exc


def _load_channel(directory: Path, entry: dict) -> Channel:
    arrays = []
    for role in ("passages", "sentences"):
        path = directory / entry[role]
        if file_sha256(path) != entry[f"{role}_sha256"]:
            raise ValueError(f"{entry[role]} does not match its checksum")
        arrays.append(np.load(path, allow_pickle=False).astype(np.float32, copy=False))
    return Channel(EncoderStamp(**entry["stamp"]), *arrays)


def _passage(row: dict) -> Passage:
    return Passage(
        article=row["article"],
        title="",
        paragraph=row["paragraph"],
        start=row["start"],
        end=row["end"],
        text=row["text"],
        lang=row["lang"],
        sentences=tuple(tuple(s) for s in row["sentences"]),
        section=row["section"],
    )


def _with_title(p: Passage, title: str) -> Passage:
    return Passage(**{**p.__dict__, "title": title})


def _row(p: Passage) -> dict:
    return {
        "article": p.article,
        "paragraph": p.paragraph,
        "start": p.start,
        "end": p.end,
        "lang": p.lang,
        "sentences": [list(s) for s in p.sentences],
        "section": p.section,
        "text": p.text,
    }


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_npy(array: np.ndarray) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with path.open("wb") as fh:
            np.save(fh, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)

    return write


def save_index(index: Index) -> None:
    """Write the index as a new generation, then switch manifest.json to it atomically.

    Call it holding the writer lock (qa/lock.py). IndexUnwritable when the folder cannot be
    written; the previous index is then untouched.
    """
    try:
        _save(index)
    except OSError as exc:
        raise IndexUnwritable(
            f"cannot write the index in {index.directory} ({exc.strerror or exc}); "
            "the previous index is untouched"
        ) from exc


def _save(index: Index) -> None:
    directory = index.directory
    directory.mkdir(parents=True, exist_ok=True)
    gen = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    channels: dict[str, dict] = {}
    for name, channel in index.channels.items():
        entry: dict = {"stamp": asdict(channel.stamp)}
        for role, array in (("passages", channel.passages), ("sentences", channel.sentences)):
            file = f"{name}-{role}-{gen}.npy"
            _write_atomic(directory / file, _write_npy(array))
            entry[role], entry[f"{role}_sha256"] = file, file_sha256(directory / file)
        channels[name] = entry
    manifest = {
        "format": FORMAT,
        "settings": asdict(index.settings),
        "built_at": index.built_at,
        "channels": channels,
        "articles": {path: asdict(a) for path, a in index.articles.items()},
        "skipped": {path: asdict(s) for path, s in index.skipped.items()},
        "rows": [_row(p) for p in index.passages],
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=1)
    _write_atomic(directory / MANIFEST, lambda p: p.write_text(body, encoding="utf-8"))
    _remove_unreferenced(directory, channels)


def remove_unreferenced(directory: Path) -> None:
    """Delete what a killed writer left behind; call it holding the writer lock."""
    try:
        channels = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))["channels"]
        _remove_unreferenced(directory, channels)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no readable manifest: nothing can be told apart, so nothing is deleted


def _remove_unreferenced(directory: Path, channels: dict[str, dict]) -> None:
    # Under the writer lock, a vector file the committed manifest does not name is an old
    # generation or what a killed writer left (a hidden .tmp): nothing refers to it any more.
    keep = {e[role] for e in channels.values() for role in ("passages", "sentences")}
    for old in directory.iterdir():
        stale = old.suffix in (".faiss", ".npy") and old.name not in keep
        if stale or (old.name.startswith(".") and old.name.endswith(".tmp")):
            old.unlink(missing_ok=True)


def new_index(
    directory: Path,
    settings: Settings,
    articles: Mapping[str, ArticleRecord],
    skipped: Mapping[str, SkippedRecord],
    passages: list[Passage],
    channels: dict[str, Channel],
) -> Index:
    """An in-memory index over `passages` and their vectors in every channel."""
    rows = int(sentence_rows(passages)[-1])
    for name, channel in channels.items():
        channel.check(name, len(passages), rows)
    return Index(
        directory=directory,
        settings=settings,
        built_at=time.time(),
        articles=dict(articles),
        skipped=dict(skipped),
        passages=passages,
        channels=channels,
    )
