from __future__ import annotations

import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from qa.text import normalize

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "seeds" / "000_c298b06fccaec04c.txt"


class FakeEmbedder:
    """Deterministic bag-of-words vectors: texts sharing (normalized) words are similar."""

    name = "fake-bow"
    fingerprint = "fake0001"
    dim = 256
    max_tokens = 60
    second = None  # no cross-language second encoder unless a test gives it one

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def embed(self, texts, kind):
        self.calls.append((kind, list(texts)))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, 0] = 0.05  # no zero vectors
            for word in re.findall(r"\w+", normalize(text)):
                out[i, zlib.crc32(word.encode()) % (self.dim - 1) + 1] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def count_tokens(self, text, kind):
        return len(text.split()) + 3

    @property
    def embedded(self) -> list[str]:
        return [t for kind, texts in self.calls if kind == "passage" for t in texts]


class FakeSecond:
    """A stand-in second encoder: bag-of-words too, hashed differently, with its own weights."""

    name = "fake-second"
    fingerprint = "second01"
    dim = 64

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, 0] = 0.05
            for word in re.findall(r"\w+", normalize(text)):
                out[i, zlib.adler32(word.encode()) % (self.dim - 1) + 1] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @property
    def embedded(self) -> list[str]:
        return [t for texts in self.calls for t in texts]


ARTICLES = {
    "seeds/001_dates.txt": (
        "موسم التمور في الأحساء\n\n120 مشاهدة\n\n"
        "بدأ موسم حصاد التمور في واحة الأحساء هذا الأسبوع، ويتوقع المزارعون إنتاجاً وفيراً.\n\n"
        "وقال رئيس جمعية المزارعين إن سعر الكيلوغرام من تمر الخلاص ارتفع إلى عشرين ريالاً.\n\n"
        "ارسال الخبر الى:\n"
    ),
    "seeds/002_rain.md": (
        "# Heavy rain floods the coastal road\n\n"
        "Heavy rain flooded the coastal road near Alexandria on Sunday, officials said.\n\n"
        "The latest news from the ministry says the road will reopen on Tuesday.\n\n"
        "© 2024 Example News | Designed by Someone\n"
    ),
    "seeds/003_library.txt": (
        "افتتاح مكتبة عامة جديدة\n\n"
        "افتتحت البلدية مكتبة عامة جديدة تضم خمسين ألف كتاب في وسط المدينة.\n\n"
        "وتفتح المكتبة أبوابها يومياً من التاسعة صباحاً حتى التاسعة مساءً.\n"
    ),
}


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with seeds/ holding three tiny articles; embeddings/ not built yet."""
    for rel, text in ARTICLES.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def seed_project(tmp_path: Path) -> Path:
    """A project folder whose seeds/ holds only the bundled seed article."""
    (tmp_path / "seeds").mkdir()
    shutil.copy(SEED, tmp_path / "seeds" / SEED.name)
    return tmp_path


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled multilingual-e5-small, converted once per test session."""
    from qa.embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()
