"""The index on disk: manifest.json over the segment files, read and committed atomically.

A commit writes the segments not yet on disk (qa/segment.py) under temporary names, fsyncs and
renames them, and then switches manifest.json by one atomic rename: a crash or a kill at any
moment leaves the previous index whole. Readers take no lock; a read that races a commit sees
manifest.json change and reads again. What the manifest says and how the rows are searched is
qa/index.py.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from qa.articles import file_sha256
from qa.embedder import MAIN, EncoderStamp
from qa.errors import IndexDamaged, IndexMissing, IndexUnwritable
from qa.index import (
    REBUILD,
    ArticleRecord,
    FileStamp,
    FileStat,
    Index,
    Settings,
    SkippedRecord,
)
from qa.segment import Segment

FORMAT = 4  # 3: segments; 4: the lexical terms include the title and subheading
MANIFEST = "manifest.json"


def load_index(directory: Path) -> Index:
    """Read the index in `directory`; IndexMissing if there is none, IndexDamaged if unreadable.

    A writer may replace the index while it is read (and then delete what is no longer
    referenced): a read that fails while manifest.json changed under it is simply done again.
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
        stamps = {name: EncoderStamp(**s) for name, s in m["channels"].items()}
        if next(iter(stamps), None) != MAIN:
            raise ValueError("no main channel")
        files = {name: FileStamp(**f) for name, f in m["files"].items()}
        for name, stamp in files.items():
            _verify(directory / name, stamp)
        segments = [Segment.read(directory, id, stamps) for id in m["segments"]]
        index = Index(
            directory=directory,
            settings=Settings(**m["settings"]),
            built_at=m["built_at"],
            stamps=stamps,
            segments=segments,
            articles={p: ArticleRecord(**a) for p, a in m["articles"].items()},
            skipped={p: SkippedRecord(**s) for p, s in m["skipped"].items()},
            files=files,
            file_stats={p: FileStat(*s) for p, s in m.get("file_stats", {}).items()},
        )
        for path, record in index.articles.items():
            segment = next((s for s in segments if s.id == record.segment), None)
            if segment is None or record.first + record.passages > segment.rows:
                raise ValueError(f"{path} points at rows that are not there")
        return index
    except (OSError, ValueError, KeyError, TypeError, AttributeError, StopIteration) as exc:
        raise IndexDamaged(f"the index in {directory} is damaged ({exc}); {REBUILD}") from exc


def _verify(path: Path, stamp: FileStamp) -> None:
    """ValueError unless `path` is the file that was committed.

    Unchanged size, mtime and inode since the commit are taken as unchanged content (as git
    does for its index); anything else is checked against the checksum.
    """
    st = path.stat()
    if (st.st_size, st.st_mtime_ns, st.st_ino) == (stamp.size, stamp.mtime_ns, stamp.inode):
        return
    if st.st_size != stamp.size or file_sha256(path) != stamp.sha256:
        raise ValueError(f"{path.name} does not match its checksum")


def _stamp(path: Path) -> FileStamp:
    st = path.stat()
    return FileStamp(file_sha256(path), st.st_size, st.st_mtime_ns, st.st_ino)


def _write_atomic(path: Path, write: Callable) -> None:
    """Write `path` through `write(binary file)`, fsync it, and rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with tmp.open("wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_index(index: Index) -> None:
    """Write the segments not yet on disk, then switch manifest.json to the index atomically.

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
    files = dict(index.files)
    for segment in index.segments:
        if all(name in files for name in segment.files()):
            continue  # already on disk: segments never change
        segment.write(directory, _write_atomic)
        for name in segment.files():
            files[name] = _stamp(directory / name)
    keep = {name for s in index.segments for name in s.files()}
    files = {name: stamp for name, stamp in files.items() if name in keep}
    manifest = {
        "format": FORMAT,
        "settings": asdict(index.settings),
        "built_at": index.built_at,
        "channels": {name: asdict(s) for name, s in index.stamps.items()},
        "segments": [s.id for s in index.segments],
        # vars(), not asdict(): these are flat records, and asdict's deep copy is what a
        # manifest of 100,000 articles would spend its time on.
        "files": {name: vars(stamp) for name, stamp in sorted(files.items())},
        "articles": {path: vars(a) for path, a in sorted(index.articles.items())},
        "skipped": {path: vars(s) for path, s in sorted(index.skipped.items())},
        "file_stats": {
            p: [s.size, s.mtime_ns, s.sha256] for p, s in sorted(index.file_stats.items())
        },
    }
    # Compact: the C encoder (an indent makes json use the Python one, 5x slower).
    body = json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    _write_atomic(directory / MANIFEST, lambda fh: fh.write(body))
    index.files = files
    # What was written is read from disk from now on: a long `qa index` would otherwise keep
    # every vector it embedded in memory (22 KB a passage; a million passages ran out).
    index.segments[:] = [
        s if s.directory is not None else Segment.read(directory, s.id, index.stamps)
        for s in index.segments
    ]
    _remove_unreferenced(directory, keep)


def remove_unreferenced(directory: Path) -> None:
    """Delete what a killed writer left behind; call it holding the writer lock."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        _remove_unreferenced(directory, set(manifest["files"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no readable manifest: nothing can be told apart, so nothing is deleted


def _remove_unreferenced(directory: Path, keep: set[str]) -> None:
    # Under the writer lock, a segment file the committed manifest does not name belongs to a
    # segment merged away or to a killed writer (so does a hidden .tmp): nothing refers to it.
    for old in directory.iterdir():
        stale = old.name.startswith("seg-") and old.name not in keep
        legacy = old.suffix in (".faiss", ".npy") and not old.name.startswith("seg-")
        if stale or legacy or (old.name.startswith(".") and old.name.endswith(".tmp")):
            old.unlink(missing_ok=True)
