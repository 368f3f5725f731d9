"""Keep the index in embeddings/ in line with seeds/: find what changed, embed only that.

New and modified articles are (re-)embedded, deleted articles' rows dropped, unchanged ones
carried over with their exact vectors; the result is saved by qa/index.py in one atomic step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.articles import file_sha256, find_articles, load_article
from qa.embedder import Embedder
from qa.errors import (
    EmptyArticle,
    IndexDamaged,
    IndexMissing,
    ModelMismatch,
    SeedsMissing,
    UnreadableArticle,
)
from qa.index import Index, Settings, load_index, new_index, save_index
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
    rebuilt: bool = False


def project_root(seeds: Path) -> Path:
    """Citations name files relative to the folder that holds seeds/."""
    return seeds.resolve().parent


def scan_seeds(seeds: Path) -> dict[str, Path]:
    """Article files by their path relative to the project root; SeedsMissing if there are none."""
    if not seeds.is_dir():
        raise SeedsMissing(
            f"the articles folder {seeds} does not exist: create it and add .txt/.md files"
        )
    root = project_root(seeds)
    files = {p.resolve().relative_to(root).as_posix(): p for p in find_articles(seeds)}
    if not files:
        raise SeedsMissing(f"the articles folder {seeds} has no .txt or .md articles in it")
    return files


def diff(index: Index | None, files: dict[str, Path]) -> Changes:
    """What differs between the index and the article files, by content hash."""
    known = (
        {}
        if index is None
        else {
            **{p: s["sha256"] for p, s in index.skipped.items()},
            **{p: a["sha256"] for p, a in index.articles.items()},
        }
    )
    skipped_hash = {} if index is None else {p: s["sha256"] for p, s in index.skipped.items()}
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


def embed_passages(
    passages: Sequence[Passage],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(passage vectors, sentence vectors); a one-sentence passage reuses its passage vector."""
    return _embed_rows(
        passages, lambda batch: embedder.embed(batch, "passage"), embedder.dim, settings, progress
    )


def embed_second(
    passages: Sequence[Passage], embedder: Embedder, settings: Settings
) -> tuple[np.ndarray, np.ndarray] | None:
    """The same rows as `embed_passages` by the embedder's second encoder; None without one."""
    second = getattr(embedder, "second", None)
    if second is None:
        return None
    return _embed_rows(passages, second.embed, second.dim, settings)


def _embed_rows(
    passages: Sequence[Passage],
    embed: Callable[[list[str]], np.ndarray],
    dim: int,
    settings: Settings,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    texts = [p.embed_text(settings.with_title) for p in passages]
    multi = [i for i, p in enumerate(passages) if len(p.sentences) > 1]
    sentence_texts = [passages[i].text[a:b] for i in multi for a, b in passages[i].sentences]
    total = len(texts) + len(sentence_texts)
    done = 0
    chunks = []
    for batch_start in range(0, total, EMBED_BATCH):
        batch = (texts + sentence_texts)[batch_start : batch_start + EMBED_BATCH]
        chunks.append(embed(batch))
        done += len(batch)
        if progress:
            progress(done, total)
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)
    passage_vectors, extra = vectors[: len(texts)], iter(vectors[len(texts) :])
    sentence_vectors = []
    for i, p in enumerate(passages):
        if len(p.sentences) > 1:
            sentence_vectors.extend(next(extra) for _ in p.sentences)
        else:
            sentence_vectors.append(passage_vectors[i])
    return passage_vectors, np.array(sentence_vectors, dtype=np.float32).reshape(-1, dim)


def update_index(
    seeds: Path,
    directory: Path,
    embedder: Embedder,
    settings: Settings | None = None,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> UpdateReport:
    """Bring the index in line with seeds/, embedding only new and changed articles."""
    started = time.perf_counter()
    settings = settings or Settings(max_tokens=embedder.max_tokens)
    files = scan_seeds(seeds)
    warnings: list[str] = []
    old: Index | None = None
    if not rebuild:
        try:
            old = load_index(directory)
        except IndexMissing:
            old = None
        except IndexDamaged as exc:
            warnings.append(f"{exc.args[0].split(';')[0]}; rebuilding it from the articles")
        if old is not None:
            old.check_model(embedder, updating=True)
            if old.settings != settings:
                raise ModelMismatch(
                    f"the index in {directory} was built with other settings ({old.settings}); "
                    "run `qa index --rebuild`"
                )
    changes = diff(old, files)
    if old is not None and changes.in_sync:
        return UpdateReport(changes, 0, time.perf_counter() - started, warnings)
    articles = {} if old is None else {p: a for p, a in old.articles.items() if p in files}
    skipped = {} if old is None else {p: s for p, s in old.skipped.items() if p in files}
    fresh: dict[str, list[Passage]] = {}
    for path in changes.added + changes.changed:
        try:
            article = load_article(files[path], path)
        except (UnreadableArticle, EmptyArticle) as exc:
            kept = " (its previous version stays indexed)" if path in articles else ""
            warnings.append(f"skipped {exc}{kept}")
            skipped[path] = {
                "sha256": file_sha256(files[path]) if files[path].exists() else "",
                "reason": str(exc),
            }
            continue
        fresh[path] = make_passages(
            article, lambda t: embedder.count_tokens(t, "passage"), settings.max_tokens
        )
        articles[path] = {
            "sha256": article.sha256,
            "title": article.title,
            "encoding": article.encoding,
            "passages": len(fresh[path]),
        }
        skipped.pop(path, None)

    new_passages = [p for path in sorted(fresh) for p in fresh[path]]
    new_vectors, new_sentences = embed_passages(new_passages, embedder, settings, progress)
    new_second = embed_second(new_passages, embedder, settings)

    passages: list[Passage] = []
    vector_parts, sentence_parts = [], []
    second_parts: tuple[list, list] = ([], [])  # passage, sentence rows of the second encoder
    old_vectors = old.passage_vectors() if old is not None else None
    old_rows: dict[str, list[int]] = {}
    for i, p in enumerate(old.passages if old is not None else []):
        old_rows.setdefault(p.article, []).append(i)
    new_at = 0
    new_sentence_at = 0
    for path in sorted(articles):
        if path in fresh:
            n = len(fresh[path])
            n_sent = sum(len(p.sentences) for p in fresh[path])
            passages.extend(fresh[path])
            vector_parts.append(new_vectors[new_at : new_at + n])
            sentence_parts.append(new_sentences[new_sentence_at : new_sentence_at + n_sent])
            if new_second is not None:
                second_parts[0].append(new_second[0][new_at : new_at + n])
                second_parts[1].append(new_second[1][new_sentence_at : new_sentence_at + n_sent])
            new_at += n
            new_sentence_at += n_sent
        else:
            rows = old_rows.get(path, [])
            passages.extend(old.passages[i] for i in rows)
            vector_parts.append(old_vectors[rows])
            for i in rows:
                sentence_parts.append(
                    old.sentence_vectors[old.sentence_rows[i] : old.sentence_rows[i + 1]]
                )
            if new_second is not None:  # check_model: the old index has the same encoder's rows
                second_parts[0].append(old.second_passages[rows])
                second_parts[1].extend(
                    old.second_sentences[old.sentence_rows[i] : old.sentence_rows[i + 1]]
                    for i in rows
                )
    dim = embedder.dim
    second_vectors = None
    if new_second is not None:
        second_dim = embedder.second.dim
        second_vectors = tuple(
            np.concatenate(parts) if parts else np.zeros((0, second_dim), np.float32)
            for parts in second_parts
        )
    index = new_index(
        directory,
        embedder,
        settings,
        articles,
        skipped,
        passages,
        np.concatenate(vector_parts) if vector_parts else np.zeros((0, dim), np.float32),
        np.concatenate(sentence_parts) if sentence_parts else np.zeros((0, dim), np.float32),
        second_vectors,
    )
    if not articles:
        raise SeedsMissing(
            f"none of the {len(files)} article file(s) in {seeds} could be indexed: "
            + "; ".join(warnings)
        )
    save_index(index)
    return UpdateReport(
        changes=changes,
        passages_embedded=len(new_passages),
        seconds=time.perf_counter() - started,
        warnings=warnings,
        rebuilt=rebuild or old is None,
    )
