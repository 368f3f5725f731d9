"""The index on disk: a manifest over the segment files, read and committed atomically.

A commit writes the segments not yet on disk (qa/segment.py) under temporary names, fsyncs and
renames them, and then commits the manifest. The manifest is manifest.json and the edits that
manifest.log holds after it, as LevelDB keeps its MANIFEST: a commit appends one line, what
changed (new segments, and the records of the articles it embedded, removed or saw touched),
and fsyncs it, so that a commit costs what changed and not the size of the archive. A line
ends in a checksum of itself: a line cut short by a crash is not there. When the log has grown
past half of manifest.json, the next commit writes the whole manifest anew (atomic rename) with
an empty log, so reading stays one pass over about the manifest's size and the writes stay in
proportion to the changes. A crash or a kill at any moment leaves the previous index whole.
Readers take no lock; a read that races a commit sees the manifest change and reads again.
What the manifest says and how the rows are searched is qa/index.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
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

FORMAT = 5  # 3: segments; 4: the lexical terms include the title and subheading; 5: a log
READABLE = (4, 5)  # format 4 is a manifest.json without a log
MANIFEST = "manifest.json"
LOG = "manifest.log"
# The manifest's parts kept by key (segment files, articles, skipped files, file stats): a log
# line holds the keys that changed, a removed one as null. Any other part changed is given
# whole (segments, built_at); settings or encoders changed mean a new manifest.json.
KEYED = ("files", "articles", "skipped", "file_stats")
WHOLE_ONLY = ("format", "settings", "channels")
# The log is folded into a new manifest.json once it outgrows this share of it (or this many
# bytes, for a small index): the rewrites then cost at most twice what was appended.
LOG_SHARE = 0.5
LOG_FLOOR = 1 << 20


@dataclass(frozen=True)
class Written:
    """The manifest files on disk as this process last read or wrote them."""

    base: tuple[int, int, int]  # manifest.json's inode, mtime and size
    log_id: str  # the id manifest.json gives its log ("" for format 4: no log)
    length: int  # bytes of manifest.log that belong to it; -1: it has none that can be trusted
    said: dict  # the manifest they add up to, as `_manifest` gives it, to diff the next one


def load_index(directory: Path) -> Index:
    """Read the index in `directory`; IndexMissing if there is none, IndexDamaged if unreadable.

    A writer may commit while the index is read (and then delete what is no longer
    referenced): a read during which the manifest or its log changed is done again, whether
    it failed or gave what may be a state from before the commit (the manifest.json of one
    moment with the log of another).
    """
    for _ in range(3):
        before = commit_stamp(directory)
        try:
            index = _load(directory)
        except IndexDamaged:
            if commit_stamp(directory) == before:
                raise
            continue
        if commit_stamp(directory) == before:
            return index
    return _load(directory)


def commit_stamp(directory: Path) -> tuple[int, ...] | None:
    """What changes whenever a commit lands (None without an index): to tell that the index on
    disk is no longer the one loaded, without reading it."""
    try:
        base = (directory / MANIFEST).stat()
    except OSError:
        return None
    try:
        log = (directory / LOG).stat()
        tail: tuple[int, ...] = (log.st_ino, log.st_size)
    except OSError:
        tail = ()
    return (base.st_ino, base.st_mtime_ns, base.st_size, *tail)


def read_manifest(directory: Path) -> tuple[dict, Written]:
    """The committed manifest (manifest.json with its log's edits applied) and what it was
    read from. OSError or ValueError when it cannot be read."""
    with (directory / MANIFEST).open("rb") as fh:
        st = os.fstat(fh.fileno())
        body = fh.read()
    m = json.loads(body)
    if not isinstance(m, dict):
        raise ValueError("the manifest is not a JSON object")
    if m.get("format") not in READABLE:
        raise ValueError(f"format {m.get('format')!r}, this qa reads {READABLE}")
    log_id = m.pop("log", "")
    length = -1
    if log_id:
        try:
            data = (directory / LOG).read_bytes()
        except FileNotFoundError:
            data = b""
        edits, length = _read_log(data, log_id)
        for edit in edits:
            _apply(m, edit)
    return m, Written((st.st_ino, st.st_mtime_ns, st.st_size), log_id, length, m)


def _line(record: dict) -> bytes:
    """One log line: the record as compact JSON, a tab, and the first 16 hex digits of its
    SHA-256. (JSON escapes tabs and newlines inside strings: neither occurs in the record.)"""
    body = _json(record)
    return body + b"\t" + hashlib.sha256(body).hexdigest()[:16].encode() + b"\n"


def _json(value: dict) -> bytes:
    """Compact JSON, by the C encoder (an indent makes json use the Python one, 5x slower)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_file_stat)
    return text.encode("utf-8")


def _file_stat(value: object) -> list:
    if isinstance(value, FileStat):
        return [value.size, value.mtime_ns, value.sha256]
    raise TypeError(f"{type(value).__name__} is not part of a manifest")


def _parsed(line: bytes) -> dict | None:
    """A log line's record, or None when it is not a whole line as `_line` writes them."""
    body, tab, check = line.rpartition(b"\t")
    if not tab or hashlib.sha256(body).hexdigest()[:16].encode() != check:
        return None
    record = json.loads(body)
    return record if isinstance(record, dict) else None


def _read_log(data: bytes, log_id: str) -> tuple[list[dict], int]:
    """(The edits of manifest.log, the bytes they take) when the log belongs to the manifest
    whose log id is `log_id`; ([], -1) when it belongs to another (a crash between writing a new
    manifest.json and its empty log: the manifest already holds what the old log said)."""
    lines = data.split(b"\n")
    whole = lines[:-1]  # the last piece has no newline: empty, or a line cut short
    header = _parsed(whole[0]) if whole else None
    if header is None or header.get("log") != log_id:
        return [], -1
    edits, length = [], len(whole[0]) + 1
    for n, line in enumerate(whole[1:], 1):
        edit = _parsed(line)
        if edit is None:
            # A crash mid-append leaves a bad last line; a bad line with good ones after it
            # is damage, and what came after it cannot be applied without it.
            if any(_parsed(later) is not None for later in whole[n + 1 :]):
                raise ValueError("the manifest log is damaged")
            break
        edits.append(edit)
        length += len(line) + 1
    return edits, length


def _apply(m: dict, edit: dict) -> None:
    for key, value in edit.items():
        if key in KEYED:
            part = m.setdefault(key, {})
            for name, record in value.items():
                if record is None:
                    part.pop(name, None)
                else:
                    part[name] = record
        else:
            m[key] = value


def _load(directory: Path) -> Index:
    manifest_file = directory / MANIFEST
    if not manifest_file.exists():
        raise IndexMissing(f"no index in {directory}: run `qa index` to build it from the articles")
    try:
        m, written = read_manifest(directory)
        stamps = {name: EncoderStamp(**s) for name, s in m["channels"].items()}
        if next(iter(stamps), None) != MAIN:
            raise ValueError("no main channel")
        files = {name: FileStamp(**f) for name, f in m["files"].items()}
        for name, file_stamp in files.items():
            _verify(directory / name, file_stamp)
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
        # Diffed by identity first: the records of `index` are what the next commit keeps.
        said = _manifest(index, files)
        index.written = Written(written.base, written.log_id, written.length, said)
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
    manifest = _manifest(index, files)
    written = index.written if isinstance(index.written, Written) else None
    edit = _edit(written.said, manifest) if written and _appendable(directory, written) else None
    line = _line(edit) if edit is not None else b""
    if edit is not None and written and written.length + len(line) <= _log_limit(written):
        _append(directory / LOG, line)
        index.written = Written(written.base, written.log_id, written.length + len(line), manifest)
    else:
        index.written = _write_base(directory, manifest)
    index.files = files
    # What was written is read from disk from now on: a long `qa index` would otherwise keep
    # every vector it embedded in memory (22 KB a passage; a million passages ran out).
    index.segments[:] = [
        s if s.directory is not None else Segment.read(directory, s.id, index.stamps)
        for s in index.segments
    ]
    _remove_unreferenced(directory, keep)


def _manifest(index: Index, files: dict[str, FileStamp]) -> dict:
    """What the manifest says of `index` with the segment `files`. Records go in as their own
    __dict__ (vars(), not asdict(): these are flat records, and asdict's deep copy is what a
    manifest of 100,000 articles would spend its time on), so that `_edit` finds an unchanged
    one by identity."""
    return {
        "format": FORMAT,
        "settings": asdict(index.settings),
        "built_at": index.built_at,
        "channels": {name: asdict(s) for name, s in index.stamps.items()},
        "segments": [s.id for s in index.segments],
        "files": {name: vars(stamp) for name, stamp in files.items()},
        "articles": {path: vars(a) for path, a in index.articles.items()},
        "skipped": {path: vars(s) for path, s in index.skipped.items()},
        # Kept as FileStat (written as [size, mtime_ns, sha256] by `_json`): an unchanged one
        # is found by identity, and 100,000 lists are not built per commit.
        "file_stats": dict(index.file_stats),
    }


def _edit(said: dict, manifest: dict) -> dict | None:
    """What changed from `said` to `manifest`, as a log line records it; None when only a
    whole new manifest.json can say it (the format, the settings or an encoder changed)."""
    if any(said.get(key) != manifest[key] for key in WHOLE_ONLY):
        return None
    edit: dict = {}
    for key, value in manifest.items():
        if key in KEYED:
            before = said.get(key, {})
            changed = {
                name: record
                for name, record in value.items()
                if (old := before.get(name)) is not record and old != record
            }
            changed.update(dict.fromkeys(before.keys() - value.keys()))
            if changed:
                edit[key] = changed
        elif key not in WHOLE_ONLY and said.get(key) != value:
            edit[key] = value
    return edit


def _appendable(directory: Path, written: Written) -> bool:
    """Whether the files on disk are still those `written` describes (the writer lock is held,
    so they are unless a crash cut a line short, or the manifest had no log of its own)."""
    if written.length < 0 or not written.log_id:
        return False
    try:
        base, log = (directory / MANIFEST).stat(), (directory / LOG).stat()
    except OSError:
        return False
    return (base.st_ino, base.st_mtime_ns, base.st_size) == written.base and (
        log.st_size == written.length
    )


def _log_limit(written: Written) -> int:
    return max(LOG_FLOOR, int(LOG_SHARE * written.base[2]))


def _append(path: Path, line: bytes) -> None:
    """Append one line to the log and make it durable: the commit point of an append."""
    with path.open("ab") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def _write_base(directory: Path, manifest: dict) -> Written:
    """A whole new manifest.json (sorted, so that equal indexes give equal files) with a new,
    empty log: the log is replaced after the manifest, and a log whose header names another
    manifest is ignored, so a crash between the two renames loses nothing."""
    log_id = uuid.uuid4().hex[:16]
    whole = {
        **manifest,
        **{key: dict(sorted(manifest[key].items())) for key in KEYED},
        "log": log_id,
    }
    body = _json(whole)
    _write_atomic(directory / MANIFEST, lambda fh: fh.write(body))
    st = (directory / MANIFEST).stat()
    header = _line({"log": log_id})
    _write_atomic(directory / LOG, lambda fh: fh.write(header))
    return Written((st.st_ino, st.st_mtime_ns, st.st_size), log_id, len(header), manifest)


def remove_unreferenced(directory: Path) -> None:
    """Delete what a killed writer left behind; call it holding the writer lock."""
    try:
        manifest, _ = read_manifest(directory)
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
