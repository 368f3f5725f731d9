"""The FAISS index in embeddings/ and its manifest: what a vector means, load, save atomically.

Layout of the index folder:
  manifest.json        model + weights fingerprint, settings, articles (path, sha256), rows
  passages-<gen>.faiss inner-product index over the L2-normalized passage vectors
  sentences-<gen>.npy  one vector per sentence of every passage (answer highlighting, ranking)
  second-passages-<gen>.npy, second-sentences-<gen>.npy
                       the same rows by the embedder's second encoder, when it has one
                       (cross-language ranking; qa/crosslingual.py)

A save writes new `<gen>` files beside the old ones and then replaces manifest.json in one
atomic rename: a crash or Ctrl-C at any moment leaves the previous index whole and usable.
Keeping the index in line with seeds/ (what changed, embedding only that) is qa/sync.py.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from qa.articles import file_sha256
from qa.embedder import Embedder
from qa.errors import IndexDamaged, IndexMissing, ModelMismatch
from qa.passages import Passage

FORMAT = 1  # the "second" key is optional: indexes without it still load
MANIFEST = "manifest.json"
SECOND_ROLES = ("second_passages", "second_sentences")


@dataclass(frozen=True)
class Settings:
    """Everything besides the weights that decides what a vector means."""

    max_tokens: int = 512
    with_title: bool = False


@dataclass
class Index:
    directory: Path
    model: str
    fingerprint: str
    dim: int
    settings: Settings
    built_at: float
    articles: dict[str, dict]  # path -> {"sha256", "title", "encoding", "passages"}
    skipped: dict[str, dict]  # path -> {"sha256", "reason"}: files that could not be indexed
    passages: list[Passage]
    vectors: faiss.Index
    sentence_vectors: np.ndarray
    sentence_rows: (
        np.ndarray
    )  # passage i owns sentence_vectors[sentence_rows[i]:sentence_rows[i+1]]
    # The second encoder ({"name", "fingerprint"}) and its vectors, row for row as above; None
    # when the embedder had none (or the index predates it).
    second: dict | None = None
    second_passages: np.ndarray | None = None
    second_sentences: np.ndarray | None = None

    def passage_vectors(self) -> np.ndarray:
        return (
            self.vectors.reconstruct_n(0, self.vectors.ntotal)
            if self.vectors.ntotal
            else (np.zeros((0, self.dim), dtype=np.float32))
        )

    def check_model(self, embedder: Embedder, updating: bool = False) -> None:
        """Refuse to mix vectors of two models in one index.

        A second encoder on one side only is refused when `updating` (the new rows would have
        vectors the old ones lack, or the reverse); searching just skips the cross-language term.
        """
        if (self.model, self.fingerprint) != (embedder.name, embedder.fingerprint):
            raise ModelMismatch(
                f"the index in {self.directory} was made by {self.model} "
                f"(weights {self.fingerprint}), "
                f"not by {embedder.name} (weights {embedder.fingerprint}); "
                "run `qa index --rebuild` to re-embed everything with the new model"
            )
        second = _second_stamp(embedder)
        if self.second == second or (not updating and None in (self.second, second)):
            return
        raise ModelMismatch(
            f"the index in {self.directory} was made with "
            f"{_describe(self.second)}, not with {_describe(second)}; "
            "run `qa index --rebuild` to re-embed everything with the new model"
        )


def _second_stamp(embedder: Embedder) -> dict | None:
    second = getattr(embedder, "second", None)
    return None if second is None else {"name": second.name, "fingerprint": second.fingerprint}


def _describe(second: dict | None) -> str:
    if second is None:
        return "no second encoder"
    return f"second encoder {second['name']} (weights {second['fingerprint']})"


def load_index(directory: Path) -> Index:
    """Read the index in `directory`; IndexMissing if there is none, IndexDamaged if unreadable."""
    manifest_file = directory / MANIFEST
    if not manifest_file.exists():
        raise IndexMissing(f"no index in {directory}: run `qa index` to build it from the articles")
    try:
        m = json.loads(manifest_file.read_text(encoding="utf-8"))
        if m.get("format") != FORMAT:
            raise ValueError(f"format {m.get('format')!r}, expected {FORMAT}")
        files = m["files"]
        second = m.get("second")  # absent in indexes made before the second encoder
        for role in ("passages", "sentences") + (SECOND_ROLES if second else ()):
            if file_sha256(directory / files[role]) != files[role + "_sha256"]:
                raise ValueError(f"{files[role]} does not match its checksum")
        vectors = faiss.read_index(str(directory / files["passages"]))
        sentence_vectors = np.load(directory / files["sentences"], allow_pickle=False)
        titles = {path: a["title"] for path, a in m["articles"].items()}
        passages = [
            Passage(
                article=r["article"],
                title=titles[r["article"]],
                paragraph=r["paragraph"],
                start=r["start"],
                end=r["end"],
                text=r["text"],
                lang=r["lang"],
                sentences=tuple(tuple(s) for s in r["sentences"]),
                section=r["section"],
            )
            for r in m["rows"]
        ]
        counts = [len(p.sentences) for p in passages]
        sentence_rows = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if vectors.ntotal != len(passages) or len(sentence_vectors) != sentence_rows[-1]:
            raise ValueError("the number of vectors does not match the manifest")
        if vectors.d != m["dim"] or (
            len(sentence_vectors) and sentence_vectors.shape[1] != m["dim"]
        ):
            raise ValueError("vector dimension does not match the manifest")
        second_passages = second_sentences = None
        if second:
            second_passages, second_sentences = (
                np.load(directory / files[role], allow_pickle=False).astype(np.float32)
                for role in SECOND_ROLES
            )
            if (
                second_passages.ndim != 2
                or second_sentences.ndim != 2
                or len(second_passages) != len(passages)
                or len(second_sentences) != sentence_rows[-1]
                or second_passages.shape[1] != second_sentences.shape[1]
            ):
                raise ValueError("the second encoder's vectors do not match the manifest")
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexDamaged(
            f"the index in {directory} is damaged ({exc}); run `qa index --rebuild` to rebuild it"
        ) from exc
    return Index(
        directory=directory,
        model=m["model"],
        fingerprint=m["fingerprint"],
        dim=m["dim"],
        settings=Settings(**m["settings"]),
        built_at=m["built_at"],
        articles=m["articles"],
        skipped=m["skipped"],
        passages=passages,
        vectors=vectors,
        sentence_vectors=sentence_vectors.astype(np.float32),
        sentence_rows=sentence_rows,
        second=second,
        second_passages=second_passages,
        second_sentences=second_sentences,
    )


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_index(index: Index) -> None:
    """Write the index as a new generation, then switch manifest.json to it atomically."""
    directory = index.directory
    directory.mkdir(parents=True, exist_ok=True)
    gen = f"{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    files = {"passages": f"passages-{gen}.faiss", "sentences": f"sentences-{gen}.npy"}
    _write_atomic(directory / files["passages"], lambda p: faiss.write_index(index.vectors, str(p)))

    def write_npy(array: np.ndarray) -> Callable[[Path], None]:
        def write(p: Path) -> None:
            with p.open("wb") as fh:
                np.save(fh, array.astype(np.float32), allow_pickle=False)

        return write

    _write_atomic(directory / files["sentences"], write_npy(index.sentence_vectors))
    roles = ("passages", "sentences")
    if index.second is not None:
        files["second_passages"] = f"second-passages-{gen}.npy"
        files["second_sentences"] = f"second-sentences-{gen}.npy"
        _write_atomic(directory / files["second_passages"], write_npy(index.second_passages))
        _write_atomic(directory / files["second_sentences"], write_npy(index.second_sentences))
        roles += SECOND_ROLES
    for role in roles:
        files[role + "_sha256"] = file_sha256(directory / files[role])
    manifest = {
        "format": FORMAT,
        "model": index.model,
        "fingerprint": index.fingerprint,
        "dim": index.dim,
        "second": index.second,
        "settings": asdict(index.settings),
        "built_at": index.built_at,
        "files": files,
        "articles": index.articles,
        "skipped": index.skipped,
        "rows": [
            {
                "article": p.article,
                "paragraph": p.paragraph,
                "start": p.start,
                "end": p.end,
                "lang": p.lang,
                "sentences": [list(s) for s in p.sentences],
                "section": p.section,
                "text": p.text,
            }
            for p in index.passages
        ],
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=1)
    _write_atomic(directory / MANIFEST, lambda p: p.write_text(body, encoding="utf-8"))
    keep = {files[role] for role in roles} | {MANIFEST}
    for old in directory.glob("*-*.*"):
        if old.name not in keep and old.suffix in (".faiss", ".npy"):
            old.unlink(missing_ok=True)


def new_index(
    directory: Path,
    embedder: Embedder,
    settings: Settings,
    articles: dict[str, dict],
    skipped: dict[str, dict],
    passages: list[Passage],
    passage_vectors: np.ndarray,
    sentence_vectors: np.ndarray,
    second_vectors: tuple[np.ndarray, np.ndarray] | None = None,
) -> Index:
    """An in-memory index over `passages` and their vectors, stamped with `embedder`'s model.

    `second_vectors`: (passage, sentence) vectors of the embedder's second encoder, which
    must be given when it has one (`embed_second`).
    """
    second = _second_stamp(embedder)
    if (second is None) != (second_vectors is None):
        raise ValueError("second-encoder vectors must be given exactly when the embedder has one")
    vectors = faiss.IndexFlatIP(embedder.dim)
    if len(passage_vectors):
        vectors.add(np.ascontiguousarray(passage_vectors, dtype=np.float32))
    counts = [len(p.sentences) for p in passages]
    return Index(
        directory=directory,
        model=embedder.name,
        fingerprint=embedder.fingerprint,
        dim=embedder.dim,
        settings=settings,
        built_at=time.time(),
        articles=articles,
        skipped=skipped,
        passages=passages,
        vectors=vectors,
        sentence_vectors=sentence_vectors.astype(np.float32),
        sentence_rows=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        second=second,
        second_passages=None if second_vectors is None else second_vectors[0].astype(np.float32),
        second_sentences=None if second_vectors is None else second_vectors[1].astype(np.float32),
    )
