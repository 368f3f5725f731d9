"""What changed in seeds/ since the index was made, and reading the files that changed.

Files and articles: a text file or a web page is one article, named by its path; a JSON Lines
export is one article per line, named `<path>#L<line>` (qa/exports.py), so that a citation
points at a line the reader can open. Changes are found per file, by content hash, and a file
whose size and modification time are those recorded at the last comparison is not read at all.
When an export changed, its lines are matched with the lines indexed from it before by the hash
of each line's bytes: an unchanged line keeps its vectors, even when lines inserted or removed
above it moved it (it is only renamed to its new line number); a changed or new line is
embedded; the rows of a line that is gone are dropped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.articles import ARTICLE_SUFFIXES, Article, article_files, file_sha256
from qa.errors import EmptyArticle, SeedsMissing, UnreadableArticle
from qa.formats import load_file, split_id
from qa.index import FileStat, Index, SkippedRecord


@dataclass
class Changes:
    """Files (paths relative to the project root) by how they differ from the index."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # Every file present, as compared now: recorded with the index, so that the next
    # comparison reads only files whose size or modification time moved.
    stats: dict[str, FileStat] = field(default_factory=dict, repr=False)

    @property
    def in_sync(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def stale(self) -> dict[str, list[str]]:
        """What is out of date, by kind: {"new": [...], "changed": [...], "removed": [...]}."""
        return {"new": self.added, "changed": self.changed, "removed": self.removed}


def project_root(seeds: Path) -> Path:
    """Citations name files relative to the folder that holds seeds/."""
    return seeds.resolve().parent


_FORMATS = ", ".join(ARTICLE_SUFFIXES)


def scan_seeds(seeds: Path, rejected: list[str] | None = None) -> dict[str, str]:
    """Article files by their path relative to the project root (the name citations use), each
    with the path to open it by; SeedsMissing if there are none.

    Entries that are not safe to read (links out of seeds/, FIFOs...) and files in other formats
    are left out, with a line saying why added to `rejected` when it is given.
    """
    if not seeds.is_dir():
        raise SeedsMissing(
            f"the articles folder {seeds} does not exist: create it and add articles ({_FORMATS})"
        )
    root = os.fspath(project_root(seeds))
    files = {_relative(real, root): p for real, p in article_files(seeds, rejected).items()}
    if not files:
        raise SeedsMissing(f"the articles folder {seeds} has no articles ({_FORMATS}) in it")
    return files


def _relative(real: str, root: str) -> str:
    """`real` relative to `root`, with / between folders; a string prefix when it is one
    (real paths are normalized), `os.path.relpath` otherwise (5x slower at 200k files)."""
    if real.startswith(root + os.sep):
        return real[len(root) + 1 :].replace(os.sep, "/")
    return os.path.relpath(real, root).replace(os.sep, "/")


def file_of(article: str) -> str:
    """The file an article comes from: itself, or the export that holds it as a line."""
    return split_id(article)[0]


def indexed_files(index: Index) -> dict[str, set[str]]:
    """Each file the index has read (indexed or skipped), with the sha256(s) it was read at.

    A file has two when its new version could not be read and the previous one stays indexed.
    """
    hashes: dict[str, set[str]] = {}
    for path, a in index.articles.items():
        hashes.setdefault(file_of(path), set()).add(a.file_sha256 or a.sha256)
    for path, s in index.skipped.items():
        hashes.setdefault(file_of(path), set()).add(s.sha256)
    return hashes


def diff(index: Index | None, files: Mapping[str, str]) -> Changes:
    """What differs between the index and the article files, by each file's content hash.

    A file whose size and modification time are those recorded at the last comparison is not
    read: at 100,000 articles that is the difference between a second and minutes.

    Only hashes are compared, nothing is parsed: an export with one line changed is one
    changed file here (`qa index` then embeds that line only).
    """
    known = {} if index is None else indexed_files(index)
    seen = {} if index is None else index.file_stats
    changes = Changes()
    for path, file in files.items():
        try:
            st = os.stat(file)
            last = seen.get(path)
            if last is not None and (st.st_size, st.st_mtime_ns) == (last.size, last.mtime_ns):
                digest = last.sha256
            else:
                digest = file_sha256(Path(file))
            changes.stats[path] = FileStat(st.st_size, st.st_mtime_ns, digest)
        except OSError:
            digest = "unreadable"
        if path not in known:
            changes.added.append(path)
        elif digest in known[path]:
            changes.unchanged.append(path)
        else:
            changes.changed.append(path)
    changes.removed = sorted(set(known) - set(files))
    return changes


@dataclass
class Reading:
    """What reading the new and changed files gave, by article id."""

    articles: dict[str, Article] = field(default_factory=dict)  # to embed
    moved: dict[str, str] = field(default_factory=dict)  # export line kept: its id -> old id
    file_sha256: dict[str, str] = field(default_factory=dict)  # export line -> its file's hash
    skipped: dict[str, SkippedRecord] = field(default_factory=dict)  # files and export lines
    unread: set[str] = field(default_factory=set)  # files none of whose new version was read
    warnings: list[str] = field(default_factory=list)


def read_files(paths: Sequence[str], files: Mapping[str, str], old: Index | None) -> Reading:
    """Read the files at `paths` by their format (qa/formats.py `load_file`).

    A file that cannot be read is skipped with a warning, and its previous version, if any,
    stays indexed. An export line whose bytes are those of a line indexed from the same file
    before is not embedded again: it is `moved` (to its new line number, or to the same one).
    """
    previous = {} if old is None else old.articles
    known = set() if old is None else set(indexed_files(old))
    # Per export: the hash of each line indexed from it -> those lines' ids, in file order.
    lines: dict[str, dict[str, list[str]]] = {}
    for path, record in previous.items():
        file, line = split_id(path)
        if line is not None:
            lines.setdefault(file, {}).setdefault(record.sha256, []).append(path)
    reading = Reading()
    for path in paths:
        try:
            digest = file_sha256(Path(files[path]))
        except OSError:
            digest = ""
        try:
            articles, skipped = load_file(Path(files[path]), path)
        except (UnreadableArticle, EmptyArticle) as exc:
            kept = " (its previous version stays indexed)" if path in known else ""
            reading.warnings.append(f"skipped {exc}{kept}")
            reading.skipped[path] = SkippedRecord(sha256=digest, reason=str(exc))
            reading.unread.add(path)
            continue
        reading.warnings += skipped.values()
        # A skipped line's record holds the file's hash: the file as read, with that line bad.
        reading.skipped.update({k: SkippedRecord(digest, why) for k, why in skipped.items()})
        unused = {
            h: sorted(ids, key=lambda k: split_id(k)[1]) for h, ids in lines.get(path, {}).items()
        }
        for article in articles:
            if split_id(article.path)[1] is None:
                reading.articles[article.path] = article
                continue
            reading.file_sha256[article.path] = digest
            same = unused.get(article.sha256)
            if same:
                old_id = article.path if article.path in same else same[0]
                same.remove(old_id)
                reading.moved[article.path] = old_id
            else:
                reading.articles[article.path] = article
    return reading
