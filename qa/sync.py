"""Keep the index in embeddings/ in line with seeds/, embedding only what changed.

An update holds the writer lock (qa/lock.py) and goes: plan (what changed, qa/changes.py),
read and cut the new and changed articles into passages, embed them in batches, and commit a
segment of what was embedded every COMMIT_SECONDS (qa/index.py: unchanged articles keep their
rows, changed ones point at their new rows, removed ones are dropped), merging segments as they
accumulate. A kill loses at most what was embedded since the last commit.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa import lock
from qa.articles import Article
from qa.changes import Changes, Reading, diff, file_of, read_files, scan_seeds
from qa.embedder import Embedder
from qa.embedding import Embedding, Progress, embed_locally, embed_passages
from qa.errors import (
    IndexDamaged,
    IndexMissing,
    SeedsMissing,
)
from qa.formats import split_id
from qa.index import (
    ArticleRecord,
    Channel,
    Index,
    Settings,
    SkippedRecord,
    committed,
    new_segment_id,
)
from qa.manifest import load_index, remove_unreferenced, save_index
from qa.passages import Passage, make_passages
from qa.reuse import plan_reuse, reusing
from qa.segment import Segment

# A long `qa index` embeds this many passages at a time and commits what it has every
# COMMIT_SECONDS, so an interrupted run keeps what it embedded and the next one starts there.
COMMIT_PASSAGES = 512
COMMIT_SECONDS = 30.0
# ... or sooner, once this many passages wait: their float32 vectors take ~37 KB each.
MAX_PENDING = 16_384
# More segments than this are merged: each question then looks in a few files, not hundreds.
MAX_SEGMENTS = 16
MAX_MERGE_ROWS = 250_000


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


def cut_articles(
    articles: Mapping[str, Article],
    embedder: Embedder,
    settings: Settings,
    file_sha256: Mapping[str, str] | None = None,
) -> tuple[dict[str, ArticleRecord], list[Passage]]:
    """Cut `articles` into passages (in path order), with the records the manifest keeps.

    `file_sha256`: for the articles that are lines of an export, the export file's hash.
    """
    file_sha256 = file_sha256 or {}
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
            file_sha256=file_sha256.get(path),
        )
        passages += parts
    return records, passages


def embed_articles(
    articles: Mapping[str, Article],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
    file_sha256: Mapping[str, str] | None = None,
) -> tuple[dict[str, ArticleRecord], list[Passage], dict[str, Channel]]:
    """Cut `articles` into passages (in path order) and embed them with every encoder."""
    records, passages = cut_articles(articles, embedder, settings, file_sha256)
    return records, passages, embed_passages(passages, embedder, settings, progress)


def _segment(parts: list[tuple[list[Passage], dict[str, Channel]]]) -> Segment:
    """One segment of the batches embedded since the last commit."""
    passages = [p for batch, _ in parts for p in batch]
    names = parts[0][1]
    channels = {
        name: Channel(
            c.stamp,
            np.concatenate([ch[name].passages for _, ch in parts]),
            np.concatenate([ch[name].sentences for _, ch in parts]),
        )
        for name, c in names.items()
    }
    return Segment.of(new_segment_id(), passages, channels)


def _batches(passages: list[Passage], size: int) -> list[list[Passage]]:
    """Consecutive batches of about `size` passages that never split an article."""
    batches: list[list[Passage]] = []
    current: list[Passage] = []
    for i, p in enumerate(passages):
        current.append(p)
        last = i + 1 == len(passages) or passages[i + 1].article != p.article
        if last and len(current) >= size:
            batches.append(current)
            current = []
    if current:
        batches.append(current)
    return batches


def compact(index: Index) -> Index:
    """Merge segments when there are too many, or when most of a segment's rows are dead.

    The smallest segments are merged first, so each row is rewritten a few times over the
    life of the index (size-tiered, as Lucene merges), never per update.
    """
    live = {s.id: index.live_rows(s) for s in index.segments}
    mostly_dead = [s for s in index.segments if live[s.id] < s.rows / 2]
    # A segment this large is left whole (unless mostly dead): a merge reads what it merges.
    by_size = sorted(
        (s for s in index.segments if live[s.id] < MAX_MERGE_ROWS), key=lambda s: live[s.id]
    )
    excess = len(index.segments) - MAX_SEGMENTS // 2 if len(index.segments) > MAX_SEGMENTS else 0
    # The merged segment is built in memory: at most MAX_MERGE_ROWS live rows of the smallest.
    smallest, rows = [], 0
    for s in by_size[:excess]:
        if smallest and rows + live[s.id] > MAX_MERGE_ROWS:
            break
        smallest.append(s)
        rows += live[s.id]
    chosen = {s.id: s for s in [*mostly_dead, *smallest]}
    if len(chosen) < 2 and not mostly_dead:
        return index
    parts = []
    for n, segment in enumerate(index.segments):
        if segment.id in chosen:
            rows = np.flatnonzero(index.row_segment == n)
            names = [index.article_names[a] for a in index.row_article[rows]]
            parts.append((segment, index.row_local[rows], names))
    parts = [p for p in parts if len(p[1])]
    merged = [Segment.merge(new_segment_id(), parts)] if parts else []
    result = committed(
        index,
        index.directory,
        index.settings,
        index.stamps,
        merged,
        index.articles,
        index.skipped,
        replaced=set(chosen),
    )
    save_index(result)
    return result


@dataclass
class Plan:
    """What an update has to do: the files, the index it starts from, what changed."""

    files: dict[str, str]  # scan_seeds: article file -> the path to open
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


def _until_done(
    unfinished: Collection[str],
    articles: dict[str, ArticleRecord],
    skipped: dict[str, SkippedRecord],
) -> tuple[dict[str, ArticleRecord], dict[str, SkippedRecord]]:
    """The records to commit while the exports in `unfinished` still have lines to embed.

    An export's lines share its file hash, which says it was read as it is now: until its last
    new line is in, its lines carry none, so an update stopped in between leaves the export
    changed and the next one embeds what is missing (lines already in match by their own hash).
    """
    if not unfinished:
        return articles, skipped

    def pending(path: str) -> bool:
        file, line = split_id(path)
        return line is not None and file in unfinished

    return (
        {p: replace(r, file_sha256="") if pending(p) else r for p, r in articles.items()},
        {p: replace(r, sha256="") if pending(p) else r for p, r in skipped.items()},
    )


def update_index(
    seeds: Path,
    directory: Path,
    embedder: Embedder,
    settings: Settings | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
    wait: float = -1,
    waiting: Callable[[str], None] | None = None,
    embedding: Embedding | None = None,
) -> UpdateReport:
    """Bring the index in line with seeds/, embedding only new and changed articles.

    Holds the index's writer lock throughout (qa/lock.py), waiting up to `wait` seconds for
    another writer (-1: until it is done); seeds/ and the index are read once the lock is held,
    so what another writer did first is never overwritten. `embedding` embeds the batches
    (`embed_locally` by default; qa/cluster.py on a Ray cluster).
    """
    with lock.writer(directory, wait, waiting):
        return _update(
            seeds, directory, embedder, settings, rebuild, progress, embedding or embed_locally
        )


def _update(
    seeds: Path,
    directory: Path,
    embedder: Embedder,
    settings: Settings | None,
    rebuild: bool,
    progress: Progress | None,
    embedding: Embedding,
) -> UpdateReport:
    started = time.perf_counter()
    settings = settings or Settings(max_tokens=embedder.max_tokens)
    plan = plan_update(seeds, directory, embedder, settings, rebuild)
    old, changes, files = plan.old, plan.changes, plan.files
    if old is not None and changes.in_sync:
        remove_unreferenced(directory)
        if changes.stats != old.file_stats:  # files touched but not changed: remember them
            save_index(
                committed(
                    old,
                    directory,
                    settings,
                    old.stamps,
                    [],
                    old.articles,
                    old.skipped,
                    file_stats=changes.stats,
                )
            )
        return UpdateReport(changes, 0, time.perf_counter() - started, plan.warnings)

    reading = read_files(changes.added + changes.changed, files, old)
    records, fresh = cut_articles(reading.articles, embedder, settings, reading.file_sha256)
    reading.articles.clear()  # their passages hold what is needed of them: half the memory
    articles, skipped = _staying(old, files, changes, reading, records)
    if not articles and not records:
        raise SeedsMissing(
            f"none of the {len(files)} article file(s) in {seeds} could be indexed: "
            + "; ".join(plan.warnings + reading.warnings)
        )
    embedded = _embed_and_commit(
        old,
        directory,
        settings,
        embedder,
        changes,
        fresh,
        records,
        articles,
        skipped,
        progress,
        embedding,
    )
    return UpdateReport(
        changes=changes,
        passages_embedded=embedded,
        seconds=time.perf_counter() - started,
        warnings=plan.warnings + reading.warnings,
        rebuilt=rebuild or plan.damaged,
        skipped=sorted(reading.unread),
    )


def _staying(
    old: Index | None,
    files: Mapping[str, str],
    changes: Changes,
    reading: Reading,
    records: Mapping[str, ArticleRecord],
) -> tuple[dict[str, ArticleRecord], dict[str, SkippedRecord]]:
    """The articles whose rows stay as they are, and the skipped files' records after reading.

    Rows stay for the files not read again (unchanged, or whose new version could not be read)
    and for export lines that only moved (renamed to their new line number).
    """
    previous = {} if old is None else old.articles
    read = set(changes.added + changes.changed) - reading.unread
    keep = {p: p for p in previous if file_of(p) in files and file_of(p) not in read}
    keep.update({old_id: now for now, old_id in reading.moved.items()})
    # A record changes only for an export line read again; the others are kept as they are
    # (`replace` on each of 200,000 records was a second of an update).
    hashes = reading.file_sha256
    articles = {
        now: replace(previous[p], file_sha256=hashes[now]) if now in hashes else previous[p]
        for p, now in keep.items()
    }
    skipped = {} if old is None else old.skipped
    skipped = {p: s for p, s in skipped.items() if file_of(p) in files and file_of(p) not in read}
    skipped = {p: s for p, s in {**skipped, **reading.skipped}.items() if p not in records}
    return articles, skipped


def _embed_and_commit(
    old: Index | None,
    directory: Path,
    settings: Settings,
    embedder: Embedder,
    changes: Changes,
    fresh: list[Passage],
    records: Mapping[str, ArticleRecord],
    articles: dict[str, ArticleRecord],
    skipped: Mapping[str, SkippedRecord],
    progress: Progress | None,
    embedding: Embedding,
) -> int:
    """Embed `fresh` in batches and commit what is embedded every COMMIT_SECONDS (and at the
    end): often enough that a kill loses little, seldom enough that writing the manifest stays
    a small part of the work. Until its new version is committed, a changed article answers
    with its old one. Passages that read as ones already embedded take their vectors
    (qa/reuse.py). Returns how many passages were embedded."""
    previous = {} if old is None else old.articles
    waiting = {p: previous[p] for p in records if p in previous and p not in articles}
    index, stamps = old, embedder.stamps()
    batches = _batches(fresh, COMMIT_PASSAGES) or [[]]
    reuse = plan_reuse(old, fresh, batches, settings)
    pending: list[tuple[list[Passage], dict[str, Channel]]] = []
    last_commit = time.monotonic()
    embedded = reusing(embedding, reuse, stamps)(batches, embedder, settings, progress)
    # Closed even when a commit fails, so an engine it started (qa/cluster.py) stops now.
    with contextlib.closing(embedded):
        for n, (batch, channels) in enumerate(embedded):
            if batch:
                pending.append((batch, channels))
            waited = time.monotonic() - last_commit
            held = sum(len(part) for part, _ in pending)
            if n + 1 < len(batches) and waited < COMMIT_SECONDS and held < MAX_PENDING:
                continue
            segments = [_segment(pending)] if pending else []
            committing = {q.article for part, _ in pending for q in part}
            pending = []
            for p in committing:
                articles[p] = records[p]
                waiting.pop(p, None)
            unfinished = {file_of(p) for p in records if p not in articles}
            index = committed(
                index,
                directory,
                settings,
                stamps,
                segments,
                *_until_done(unfinished, {**waiting, **articles}, skipped),
                # A file not yet wholly committed keeps no stat: the next run compares its hash.
                file_stats={p: st for p, st in changes.stats.items() if p not in unfinished},
            )
            # The records as placed in their segment, for the commits that follow.
            articles.update({p: index.articles[p] for p in committing})
            save_index(index)
            index = compact(index)
            # A merge moved rows: the records still to commit must point where they are now.
            for records_now in (articles, waiting):
                records_now.update(
                    {p: index.articles[p] for p in records_now if p in index.articles}
                )
            last_commit = time.monotonic()
    return len(fresh) - len(reuse)
