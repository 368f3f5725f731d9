"""Keep the index in embeddings/ in line with seeds/: find what changed, embed only that.

An update is four steps: plan (compare seeds/ with the index by content hash), build rows
(parse and embed only new and changed articles), splice (unchanged articles keep their exact
rows and vectors, removed ones are dropped) and save (qa/index.py, one atomic step).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa import lock
from qa.articles import Article, file_sha256, find_articles, load_article
from qa.embedder import Embedder, EncoderStamp
from qa.errors import (
    EmptyArticle,
    IndexDamaged,
    IndexMissing,
    SeedsMissing,
    UnreadableArticle,
)
from qa.index import (
    ArticleRecord,
    Channel,
    Index,
    Settings,
    SkippedRecord,
    concat_channels,
    load_index,
    new_index,
    remove_unreferenced,
    save_index,
)
from qa.passages import Passage, make_passages

EMBED_BATCH = 64

Progress = Callable[[int, int], None]  # (done, total) texts embedded


@dataclass
class Changes:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def stale(self) -> dict[str, list[str]]:
        """What is out of date, by kind: {"new": [...], "changed": [...], "removed": [...]}."""
        return {"new": self.added, "changed": self.changed, "removed": self.removed}


@dataclass
class UpdateReport:
    changes: Changes
    passages_embedded: int
    seconds: float
    warnings: list[str]
    rebuilt: bool = False  # everything was embedded anew: asked for, or the index was damaged
    skipped: list[str] = field(default_factory=list)  # new or changed files that could not be read

    def count(self, kind: str) -> int:
        """How many article files were added / changed (and read), removed or left unchanged."""
        paths = getattr(self.changes, kind)
        return len([p for p in paths if p not in self.skipped])


def project_root(seeds: Path) -> Path:
    """Citations name files relative to the folder that holds seeds/."""
    return seeds.resolve().parent


def scan_seeds(seeds: Path, rejected: list[str] | None = None) -> dict[str, Path]:
    """Article files by their path relative to the project root; SeedsMissing if there are none.

    Entries that are not safe to read (links out of seeds/, FIFOs...) are left out, with a line
    saying why added to `rejected` when it is given.
    """
    if not seeds.is_dir():
        raise SeedsMissing(
            f"the articles folder {seeds} does not exist: create it and add .txt/.md files"
        )
    root = project_root(seeds)
    files = {p.resolve().relative_to(root).as_posix(): p for p in find_articles(seeds, rejected)}
    if not files:
        raise SeedsMissing(f"the articles folder {seeds} has no .txt or .md articles in it")
    return files


def diff(index: Index | None, files: dict[str, Path]) -> Changes:
    """What differs between the index and the article files, by content hash."""
    known = (
        {}
        if index is None
        else {
            **{p: s.sha256 for p, s in index.skipped.items()},
            **{p: a.sha256 for p, a in index.articles.items()},
        }
    )
    skipped_hash = {} if index is None else {p: s.sha256 for p, s in index.skipped.items()}
    changes = Changes()
    for path, file in files.items():
        try:
            digest = file_sha256(file)
        except OSError:
            digest = "unreadable"
        if path not in known:
            changes.added.append(path)
        elif digest in (known[path], skipped_hash.get(path)):
            changes.unchanged.append(path)
        else:
            changes.changed.append(path)
    changes.removed = sorted(set(known) - set(files))
    return changes


def read_articles(
    paths: Sequence[str], files: Mapping[str, Path], indexed: Collection[str] = ()
) -> tuple[dict[str, Article], dict[str, SkippedRecord], list[str]]:
    """Parse the article files at `paths`: (articles, files skipped, warnings).

    `indexed`: paths whose previous version is in the index (it stays there when the new
    version cannot be read).
    """
    articles: dict[str, Article] = {}
    skipped: dict[str, SkippedRecord] = {}
    warnings: list[str] = []
    for path in paths:
        try:
            articles[path] = load_article(files[path], path)
        except (UnreadableArticle, EmptyArticle) as exc:
            kept = " (its previous version stays indexed)" if path in indexed else ""
            warnings.append(f"skipped {exc}{kept}")
            try:
                digest = file_sha256(files[path])
            except OSError:
                digest = ""
            skipped[path] = SkippedRecord(sha256=digest, reason=str(exc))
    return articles, skipped, warnings


def embed_articles(
    articles: Mapping[str, Article],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
) -> tuple[dict[str, ArticleRecord], list[Passage], dict[str, Channel]]:
    """Cut `articles` into passages (in path order) and embed them with every encoder."""
    records: dict[str, ArticleRecord] = {}
    passages: list[Passage] = []
    for path in sorted(articles):
        article = articles[path]
        parts = make_passages(
            article, lambda t: embedder.count_tokens(t, "passage"), settings.max_tokens
        )
        records[path] = ArticleRecord(
            sha256=article.sha256,
            title=article.title,
            encoding=article.encoding,
            passages=len(parts),
            url=article.url,
            published=article.published,
            site=article.site,
        )
        passages += parts
    return records, passages, embed_passages(passages, embedder, settings, progress)


def embed_passages(
    passages: Sequence[Passage],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
) -> dict[str, Channel]:
    """Every encoder's (passage, sentence) vectors of `passages`, as channels.

    A passage of one sentence reuses its passage vector as its sentence vector.
    """
    texts = [p.embed_text(settings.with_title) for p in passages]
    multi = [i for i, p in enumerate(passages) if len(p.sentences) > 1]
    texts += [passages[i].text[a:b] for i in multi for a, b in passages[i].sentences]
    total, done = len(texts) * len(embedder.encoders), 0
    channels = {}
    for encoder in embedder.encoders:
        chunks = []
        for at in range(0, len(texts), EMBED_BATCH):
            chunks.append(encoder.embed(texts[at : at + EMBED_BATCH], "passage"))
            done += len(chunks[-1])
            if progress:
                progress(done, total)
        vectors = np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
        channels[encoder.key] = Channel(
            EncoderStamp.of(encoder), *_sentence_layout(passages, vectors)
        )
    return channels


def _sentence_layout(
    passages: Sequence[Passage], vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(passage vectors, sentence vectors) from [passage texts..., multi-sentence sentences...]."""
    passage_vectors = vectors[: len(passages)]
    counts = np.array([len(p.sentences) for p in passages], dtype=np.int64)
    # Row of each sentence in `vectors`: a one-sentence passage points at its passage row.
    rows = np.repeat(np.arange(len(passages)), counts)
    multi = np.repeat(counts > 1, counts)
    rows[multi] = len(passages) + np.arange(int(multi.sum()))
    return (
        np.ascontiguousarray(passage_vectors, dtype=np.float32),
        np.ascontiguousarray(vectors[rows], dtype=np.float32).reshape(-1, vectors.shape[1]),
    )


@dataclass
class Plan:
    """What an update has to do: the files, the index it starts from, what changed."""

    files: dict[str, Path]
    old: Index | None
    changes: Changes
    warnings: list[str]
    damaged: bool = False  # the index could not be read: it is built anew


def plan_update(
    seeds: Path, directory: Path, embedder: Embedder, settings: Settings, rebuild: bool
) -> Plan:
    """Compare seeds/ with the index; ModelMismatch when the index cannot take new rows."""
    warnings: list[str] = []
    files = scan_seeds(seeds, warnings)
    old: Index | None = None
    damaged = False
    if not rebuild:
        try:
            old = load_index(directory)
        except IndexMissing:
            old = None
        except IndexDamaged as exc:
            damaged = True
            warnings.append(f"{exc.args[0].split(';')[0]}; rebuilding it from the articles")
        if old is not None:
            old.check_compatible(embedder, settings, updating=True)
    return Plan(files, old, diff(old, files), warnings, damaged)


def splice(
    old: Index | None, keep: Collection[str], fresh: list[Passage], channels: dict[str, Channel]
) -> tuple[list[Passage], dict[str, Channel]]:
    """The old index's rows of the articles in `keep` and the fresh rows, in article order."""
    if old is None:
        return fresh, channels
    # Row blocks: the old index's rows, then the fresh ones; pick each article's rows from one.
    rows: dict[str, list[int]] = {}
    for i, p in enumerate(old.passages):
        if p.article in keep:
            rows.setdefault(p.article, []).append(i)
    for i, p in enumerate(fresh, start=len(old.passages)):
        rows.setdefault(p.article, []).append(i)
    pick = np.array([i for path in sorted(rows) for i in rows[path]], dtype=np.int64)
    both_passages = old.passages + fresh
    both = Index(
        directory=old.directory,
        settings=old.settings,
        built_at=old.built_at,
        articles={},
        skipped={},
        passages=both_passages,
        channels=concat_channels([old.channels, channels]),
    )
    return both.select(pick)


def update_index(
    seeds: Path,
    directory: Path,
    embedder: Embedder,
    settings: Settings | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    wait: float = -1,
    waiting: Callable[[str], None] | None = None,
) -> UpdateReport:
    """Bring the index in line with seeds/, embedding only new and changed articles.

    Holds the index's writer lock throughout (qa/lock.py), waiting up to `wait` seconds for
    another writer (-1: until it is done); seeds/ and the index are read once the lock is held,
    so what another writer did first is never overwritten.
    """
    with lock.writer(directory, wait, waiting):
        return _update(seeds, directory, embedder, settings, rebuild, progress)


def _update(
    seeds: Path,
    directory: Path,
    embedder: Embedder,
    settings: Settings | None,
    rebuild: bool,
    progress: Progress | None,
) -> UpdateReport:
    started = time.perf_counter()
    settings = settings or Settings(max_tokens=embedder.max_tokens)
    plan = plan_update(seeds, directory, embedder, settings, rebuild)
    old, changes, files = plan.old, plan.changes, plan.files
    if old is not None and changes.in_sync:
        remove_unreferenced(directory)
        return UpdateReport(changes, 0, time.perf_counter() - started, plan.warnings)

    previous = {} if old is None else old.articles
    parsed, newly_skipped, warnings = read_articles(
        changes.added + changes.changed, files, previous
    )
    records, fresh, channels = embed_articles(parsed, embedder, settings, progress)
    # Unchanged articles, and changed ones whose new version could not be read, stay as they are.
    kept = {p: a for p, a in previous.items() if p in files and p not in parsed}
    skipped = {} if old is None else {p: s for p, s in old.skipped.items() if p in files}
    skipped = {p: s for p, s in {**skipped, **newly_skipped}.items() if p not in parsed}
    articles = {**kept, **records}
    if not articles:
        raise SeedsMissing(
            f"none of the {len(files)} article file(s) in {seeds} could be indexed: "
            + "; ".join(plan.warnings + warnings)
        )
    passages, channels = splice(old, kept, fresh, channels)
    save_index(new_index(directory, settings, articles, skipped, passages, channels))
    return UpdateReport(
        changes=changes,
        passages_embedded=len(fresh),
        seconds=time.perf_counter() - started,
        warnings=plan.warnings + warnings,
        rebuilt=rebuild or plan.damaged,
        skipped=sorted(newly_skipped),
    )
