"""Stand-ins for the models, and index builders that go through the product's constructor."""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from qa.embedder import MAIN, Embedder, EncoderStamp
from qa.index import Channel, Index, Settings, new_index
from qa.passages import Passage
from qa.text import normalize


class HashingEncoder:
    """Deterministic bag-of-words vectors: texts sharing (normalized) words are similar.

    `seed` changes the hashing, so two encoders with different seeds disagree the way two
    real models do.
    """

    def __init__(
        self, key: str = MAIN, dim: int = 256, seed: int = 0, fingerprint: str | None = None
    ) -> None:
        self.key, self.dim, self.seed = key, dim, seed
        self.name = f"hashing-{key}"
        self.fingerprint = fingerprint or f"hash{seed:04d}"
        self.calls: list[tuple[str, list[str]]] = []

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        self.calls.append((kind, list(texts)))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, 0] = 0.05  # no zero vectors
            for word in re.findall(r"\w+", normalize(text)):
                out[i, zlib.crc32(word.encode(), self.seed) % (self.dim - 1) + 1] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @property
    def embedded(self) -> list[str]:
        """Every passage text this encoder was asked to embed."""
        return [t for kind, texts in self.calls if kind == "passage" for t in texts]


class FixedEncoder:
    """An encoder whose question vector is given by the test (passages come with the index)."""

    def __init__(self, query: np.ndarray, key: str = MAIN) -> None:
        self.key, self.query, self.dim = key, query, len(query)
        self.name, self.fingerprint = f"fixed-{key}", "fixed"
        self.calls = 0

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        self.calls += 1
        return np.repeat(self.query[None, :], len(texts), axis=0)


class WordCounter:
    """Counts words as tokens: small budgets make long paragraphs split in tests."""

    def __init__(self, max_tokens: int = 60) -> None:
        self.max_tokens = max_tokens

    def count_tokens(self, text: str, kind: str) -> int:
        return len(text.split()) + 3


class FakeEmbedder(Embedder):
    """An `Embedder` of hashing encoders; `embedded` lists what its main encoder embedded."""

    @property
    def embedded(self) -> list[str]:
        return self.main.embedded


def hashing_embedder(*extra: HashingEncoder, max_tokens: int = 60) -> FakeEmbedder:
    """A main hashing encoder (256 dimensions) and any further ones, e.g. a cross channel."""
    return FakeEmbedder((HashingEncoder(), *extra), WordCounter(max_tokens))


def cross_encoder(fingerprint: str | None = None) -> HashingEncoder:
    """A stand-in for USE in the `use` channel: hashed differently, fewer dimensions."""
    return HashingEncoder("use", dim=64, seed=7, fingerprint=fingerprint)


def fixed_embedder(query: np.ndarray, **others: np.ndarray) -> Embedder:
    """An embedder whose question vectors (main, and per further channel) are given."""
    encoders = (FixedEncoder(query), *(FixedEncoder(q, key) for key, q in others.items()))
    return Embedder(encoders, WordCounter(512))


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """`n` random unit vectors."""
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def index_of(
    passages: list[Passage], vectors: Mapping[str, tuple[np.ndarray, np.ndarray]]
) -> Index:
    """An in-memory index of the given (passage, sentence) vectors per channel, as `qa index`
    assembles one; stamped as made by `fixed_embedder`'s encoders."""
    channels = {
        key: Channel(
            EncoderStamp(f"fixed-{key}", "fixed", pair[0].shape[1]),
            *(np.asarray(a, np.float32) for a in pair),
        )
        for key, pair in vectors.items()
    }
    return new_index(Path("."), Settings(), {}, {}, passages, channels)


def random_passages(
    rng: np.random.Generator, langs: Sequence[str], articles: int | None = None
) -> list[Passage]:
    """Passages with 1-4 sentences each, in the given languages."""
    counts = rng.integers(1, 5, size=len(langs))
    return [
        Passage(
            f"seeds/{i % articles if articles else i}.txt",
            "t",
            i + 1,
            0,
            10,
            "x" * 10,
            lang,
            tuple((j, j + 1) for j in range(c)),
        )
        for i, (lang, c) in enumerate(zip(langs, counts, strict=True))
    ]


def random_vectors(
    rng: np.random.Generator, passages: list[Passage], dim: int
) -> tuple[np.ndarray, np.ndarray]:
    sentences = sum(len(p.sentences) for p in passages)
    return unit(rng, len(passages), dim), unit(rng, sentences, dim)
