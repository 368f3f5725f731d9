from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fakes import FakeEmbedder, hashing_embedder
from tests.samples import ARTICLES, SEED


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch) -> None:
    """Every test starts with an empty cache folder (derived files: hubness vectors,
    fingerprints, eval indexes), so no test sees what another left."""
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "qa-cache"))


@pytest.fixture(name="fake_embedder")
def fake_embedder_fixture() -> FakeEmbedder:
    """One hashing encoder, no cross-language channel."""
    return hashing_embedder()


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
    from qa.config import Config
    from qa.embedder import load_embedder

    return load_embedder(Config())
