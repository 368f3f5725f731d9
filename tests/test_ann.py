"""The approximate first stage (qa/ann.py): against exact search, on disk, with dead rows."""

from __future__ import annotations

import numpy as np

from qa import ann
from qa.manifest import load_index
from qa.retrieve import Retriever
from qa.sync import update_index
from tests.fakes import unit


def clustered(rng: np.random.Generator, n: int, dim: int = 48, clusters: int = 60) -> np.ndarray:
    """Unit vectors around `clusters` centres, the way topics group news passages."""
    centres = unit(rng, clusters, dim)
    v = centres[rng.integers(0, clusters, n)] + 0.35 * unit(rng, n, dim)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def test_approximate_search_finds_what_exact_search_finds():
    rng = np.random.default_rng(0)
    vectors = clustered(rng, 6000)
    index = ann.build(vectors.astype(np.float16))
    queries = clustered(rng, 100)
    found = 0
    for q in queries:
        exact = np.argsort(-(vectors @ q))[:10]
        _, approx = ann.search(index, q, 10)
        found += len(set(exact) & set(approx.tolist()))
    assert found / (10 * len(queries)) >= 0.95


def test_approximate_search_keeps_to_the_allowed_positions():
    rng = np.random.default_rng(1)
    vectors = clustered(rng, 3000)
    index = ann.build(vectors)
    keep = rng.random(3000) < 0.2
    for q in clustered(rng, 20):
        _, found = ann.search(index, q, 10, ann.Subset(keep))
        assert len(found) == 10 and keep[found].all()


def test_large_segments_search_approximately_and_skip_dead_rows(
    project, fake_embedder, monkeypatch
):
    monkeypatch.setattr(ann, "APPROX_MIN_ROWS", 2)
    seeds, directory = project / "seeds", project / "embeddings"
    update_index(seeds, directory, fake_embedder)
    saved = sorted(p.name for p in directory.glob("*.ivf"))
    assert saved, "a segment above the threshold saves its approximate index"

    library = seeds / "003_library.txt"
    old = library.read_text(encoding="utf-8")
    library.write_text(old.replace("وتفتح المكتبة", "وتغلق المكتبة"), encoding="utf-8")
    update_index(seeds, directory, fake_embedder)
    index = load_index(directory)
    # The library's old rows are dead in the first segment; its approximate index still
    # holds them.
    parts = [p for parts in index.by_language().values() for p in parts]
    assert any((rows < 0).any() for rows, _ in parts)

    retriever = Retriever(index, fake_embedder)
    hits = retriever.search("متى تغلق المكتبة أبوابها؟", k=20)
    texts = [h.passage.text for h in hits]
    assert any("وتغلق المكتبة" in t for t in texts)
    assert not any("وتفتح المكتبة" in t for t in texts), "a dead row was returned"
    assert {h.row for h in hits} <= set(range(len(index.passages)))
    only = retriever.search("المكتبة", k=5, articles={"seeds/003_library.txt"})
    assert only and {h.passage.article for h in only} == {"seeds/003_library.txt"}
