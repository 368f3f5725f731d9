"""Encoders, and the `Embedder` that holds them: passages and questions go through the same one.

An `Encoder` is one vector model with one `embed` method; its vectors are stored in the index
as a channel named by its `key`. The `Embedder` is the list of encoders (the first ranks
everything) plus the main model's token counter. The index never embeds: it is handed vectors,
so a deterministic fake (tests/fakes.py) can stand in for the models in fast tests.
To add an encoder: give it a `key`, append it in `load_embedder`, and give it a
`Channel` weight in qa/ranking.py; save, load, splice, check and search loop over channels.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from qa.bundled_model import bundled_model_path
from qa.config import BUNDLED_MODEL, DTYPES, Config, cache_dir, forbid_downloads
from qa.errors import ModelUnavailable

Kind = Literal["query", "passage"]
MAIN = "main"  # the channel of the encoder that ranks everything (qa/ranking.py)


class Encoder(Protocol):
    """One vector model. Its vectors are kept in the index as the channel named `key`."""

    key: str
    name: str  # what the user chose, e.g. "multilingual-e5-small" or a folder
    fingerprint: str  # identifies the exact weights
    dim: int

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """L2-normalized float32 vectors, one row per text."""
        ...


class Tokens(Protocol):
    """How the main encoder counts its input, so passages can be cut to fit it."""

    max_tokens: int  # the longest input (in model tokens, prompt included) it reads whole

    def count_tokens(self, text: str, kind: Kind) -> int:
        """How many model tokens `text` takes, prompt and special tokens included."""
        ...


@dataclass(frozen=True)
class EncoderStamp:
    """Which encoder made a channel's vectors; written in the index manifest."""

    name: str
    fingerprint: str
    dim: int

    @classmethod
    def of(cls, encoder: Encoder) -> EncoderStamp:
        return cls(encoder.name, encoder.fingerprint, encoder.dim)

    def describe(self) -> str:
        return f"{self.name} (weights {self.fingerprint})"


@dataclass
class Embedder:
    """The encoders that embed passages and questions; the first (channel `main`) ranks
    everything, the others add evidence (qa/ranking.py). The index never embeds."""

    encoders: tuple[Encoder, ...]
    tokens: Tokens

    @property
    def main(self) -> Encoder:
        return self.encoders[0]

    @property
    def name(self) -> str:
        return self.main.name

    @property
    def fingerprint(self) -> str:
        return self.main.fingerprint

    @property
    def dim(self) -> int:
        return self.main.dim

    @property
    def max_tokens(self) -> int:
        return self.tokens.max_tokens

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        """The main encoder's vectors."""
        return self.main.embed(texts, kind)

    def count_tokens(self, text: str, kind: Kind) -> int:
        return self.tokens.count_tokens(text, kind)

    def stamps(self) -> dict[str, EncoderStamp]:
        """Channel name -> which encoder fills it, main first."""
        return {e.key: EncoderStamp.of(e) for e in self.encoders}

    def encoder(self, key: str) -> Encoder:
        return next(e for e in self.encoders if e.key == key)


def load_embedder(config: Config, progress: Callable[[str], None] | None = None) -> Embedder:
    """The main model of `config` and, where it asks for one, the cross-language encoder."""
    if config.second_encoder not in ("", "use", "none"):
        raise ModelUnavailable(
            f"unknown QA_SECOND_ENCODER {config.second_encoder!r}: choose use or none"
        )
    main = SentenceTransformerEncoder(config.model, config.dtype, progress)
    encoders: list[Encoder] = [main]
    if config.wants_second_encoder:
        from qa.crosslingual import UniversalSentenceEncoder

        encoders.append(UniversalSentenceEncoder())
    return Embedder(tuple(encoders), main)


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


class SentenceTransformerEncoder:
    """A local sentence-transformers model on the CPU (or GPU when one is there)."""

    key = MAIN

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        dtype: str = "auto",
        progress: Callable[[str], None] | None = None,
    ) -> None:
        forbid_downloads()
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bar per start

        self.name = model
        folder = _local_folder(self.name, progress)
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
