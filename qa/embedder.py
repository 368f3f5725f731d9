"""One embedder interface over sentence-transformers, used for passages and questions alike.

The index never embeds: it is handed vectors made by an `Embedder`, so a deterministic fake
can stand in for the model in fast tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from qa.bundled_model import BUNDLED_MODEL, bundled_model_path, cache_dir
from qa.crosslingual import SecondEncoder, UniversalSentenceEncoder
from qa.errors import ModelUnavailable

# Nothing may be downloaded at run time: make every Hugging Face library refuse the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

Kind = Literal["query", "passage"]
DTYPES = ("auto", "float32", "bfloat16")


class Embedder(Protocol):
    name: str  # what the user chose, e.g. "multilingual-e5-small" or a folder
    fingerprint: str  # identifies the exact weights
    dim: int
    max_tokens: int  # the longest input (in model tokens, prompt included) it reads whole
    # Optional: an encoder for cross-language ranking only (qa/crosslingual.py), or None.
    second: SecondEncoder | None

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text."""
        ...

    def count_tokens(self, text: str, kind: Kind) -> int:
        """How many model tokens `text` takes, prompt and special tokens included."""
        ...


def default_model() -> str:
    return os.environ.get("QA_MODEL") or BUNDLED_MODEL


def default_second_encoder(model: str) -> SecondEncoder | None:
    """USE multilingual beside the bundled model; `QA_SECOND_ENCODER=none` (or `use`) decides."""
    choice = os.environ.get("QA_SECOND_ENCODER", "").strip().lower()
    if choice not in ("", "none", "use"):
        raise ModelUnavailable(f"unknown QA_SECOND_ENCODER {choice!r}: choose use or none")
    if choice == "none" or (choice == "" and model != BUNDLED_MODEL):
        return None
    return UniversalSentenceEncoder()


def _local_folder(model: str, progress: Callable[[str], None] | None) -> Path:
    """The folder holding `model`'s files, converting the bundled model on first use."""
    if model == BUNDLED_MODEL:
        return bundled_model_path(progress)
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - any failure means "not here, and we may not fetch it"
        raise ModelUnavailable(
            f"model {model!r} is neither the bundled {BUNDLED_MODEL!r}, a local folder, "
            "nor in the local Hugging Face cache (nothing is downloaded)"
        ) from exc


def weights_fingerprint(folder: Path) -> str:
    """sha256 over the folder's weight files, cached by (path, size, mtime) so it runs once."""
    files = sorted(
        p for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt") and p.is_file()
    )
    key = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    memo_file = cache_dir() / "fingerprints.json"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.relative_to(folder).as_posix().encode())
        with p.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
    fingerprint = digest.hexdigest()[:16]
    memo[key] = fingerprint
    try:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_file)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return fingerprint


class SentenceTransformerEmbedder:
    """A local sentence-transformers model on the CPU (or GPU when one is there)."""

    def __init__(
        self,
        model: str | None = None,
        dtype: str = "auto",
        progress: Callable[[str], None] | None = None,
    ) -> None:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar per start

        self.name = model or default_model()
        folder = _local_folder(self.name, progress)
        dtype = os.environ.get("QA_DTYPE", dtype)
        if dtype not in DTYPES:
            raise ModelUnavailable(f"unknown dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
        try:
            self.model = SentenceTransformer(str(folder), device=None, local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelUnavailable(f"cannot load model {self.name!r} from {folder}: {exc}") from exc
        # bf16 ran 1.6x faster than fp32 here at cosine 0.99997 to it (docs/benchmarks.md).
        self.dtype = "bfloat16" if dtype == "auto" else dtype
        if self.dtype == "bfloat16":
            self.model.to(torch.bfloat16)
        self.fingerprint = weights_fingerprint(folder)
        dimension = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dim = int(dimension())
        self.max_tokens = int(self.model.max_seq_length)
        self.second = default_second_encoder(self.name)
        prompts = self.model.prompts or {}
        self._prompts = {kind: prompts.get(kind, "") for kind in ("query", "passage")}
        self._prompt_tokens = {
            kind: len(self.model.tokenizer(p, add_special_tokens=False)["input_ids"]) if p else 0
            for kind, p in self._prompts.items()
        }

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            prompt=self._prompts[kind] or None,
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str, kind: Kind) -> int:
        ids = self.model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"]
        return len(ids) + self._prompt_tokens[kind]
