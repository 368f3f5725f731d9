from __future__ import annotations

import numpy as np
import pytest

from qa.index import Index
from qa.passages import Passage
from qa.ranking import DENSE
from qa.retrieve import Retriever, language_offsets
from qa.sync import update_index
from tests.fakes import fixed_embedder, index_of, random_passages, random_vectors, unit


def random_index(rng, n=300, dim=32) -> Index:
    passages = random_passages(rng, ["ar"] * n, articles=7)
    return index_of(passages, {"main": random_vectors(rng, passages, dim)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_matches_a_brute_force_reference(seed):
    rng = np.random.default_rng(seed)
    index = random_index(rng)
    query = unit(rng, 1, 32)[0]
    # "q" is Latin, the passages Arabic: DENSE leaves out hubness (tests/test_hubness.py).
    hits = Retriever(index, fixed_embedder(query), DENSE).search("q", k=10)
    passages, sentences, sentence_rows = index.matrices("main")
    passage_scores = passages @ query
    sentence_scores = sentences @ query
    best = np.array(
        [sentence_scores[sentence_rows[i] : sentence_rows[i + 1]].max() for i in range(300)]
    )
    reference = (passage_scores + best) / 2
    # The dense stage keeps the top candidates by passage score; the reference does the same.
    candidates = np.argsort(-passage_scores)[:100]
    expected = candidates[np.argsort(-reference[candidates], kind="stable")][:10]
    assert [h.row for h in hits] == expected.tolist()
    for h in hits:
        assert h.score == pytest.approx(reference[h.row], abs=1e-5)
        s = sentence_rows[h.row] + h.passage.sentences.index(h.sentence)
        assert sentence_scores[s] == pytest.approx(best[h.row], abs=1e-6)


def test_search_can_be_restricted_to_some_articles():
    rng = np.random.default_rng(5)
    index = random_index(rng)
    hits = Retriever(index, fixed_embedder(unit(rng, 1, 32)[0])).search(
        "q", k=20, articles={"seeds/3.txt"}
    )
    assert len(hits) == 20 and {h.passage.article for h in hits} == {"seeds/3.txt"}


def test_fake_model_finds_the_paragraph_sharing_words(project, fake_embedder):
    update_index(project / "seeds", project / "embeddings", fake_embedder)
    from qa.manifest import load_index

    retriever = Retriever(load_index(project / "embeddings"), fake_embedder)
    top = retriever.search("متى تفتح المكتبة أبوابها؟", k=1)[0]
    assert top.passage.article == "seeds/003_library.txt"
    assert top.passage.text[slice(*top.sentence)].startswith("وتفتح المكتبة")


def test_language_offsets_vanish_in_a_one_language_collection():
    rng = np.random.default_rng(3)
    vectors = unit(rng, 50, 32)
    assert np.abs(language_offsets(vectors, np.array(["ar"] * 50), prior=10)).max() < 1e-6
    langs = np.array(["ar"] * 25 + ["en"] * 25)
    vectors[25:] += 0.5  # a shared "English" direction
    ar_offset, en_offset = language_offsets(vectors, langs, prior=0)
    offsets = np.array([ar_offset] * 25 + [en_offset] * 25)
    # Removing it puts both languages' mean similarity to any question on one level.
    q = unit(rng, 1, 32)[0]
    shifted = vectors @ q - offsets @ q
    assert shifted[:25].mean() == pytest.approx(shifted[25:].mean(), abs=1e-5)


def test_language_bias_is_corrected_in_a_mixed_collection():
    """The question's own language must not win just by being its language."""
    dim = 32
    topic, other, english = np.eye(dim, dtype=np.float32)[:3]
    n = 20
    # Arabic passage 0 is on the question's topic; English passages share only the language.
    ar = np.array([topic + 0.2 * other] + [other] * (n - 1))
    en = np.array([other + 1.2 * english] * n)
    vectors = np.concatenate([ar, en])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    passages = [
        Passage(f"seeds/{i}.txt", "t", 1, 0, 1, "x", "ar" if i < n else "en", ((0, 1),))
        for i in range(2 * n)
    ]
    index = index_of(passages, {"main": (vectors, vectors.copy())})
    query = topic + 1.5 * english
    query /= np.linalg.norm(query)
    assert int(np.argmax(vectors @ query)) >= n  # raw cosine prefers an English passage
    top = Retriever(index, fixed_embedder(query)).search("the question", k=1)[0]
    assert top.row == 0 and top.cross_lingual


def test_lexical_evidence_lifts_the_passage_holding_the_question_words(project, fake_embedder):
    from qa.manifest import load_index

    update_index(project / "seeds", project / "embeddings", fake_embedder)
    index = load_index(project / "embeddings")
    hybrid = Retriever(index, fake_embedder).search("كم سعر تمر الخلاص؟", k=3)
    dense = Retriever(index, fake_embedder, DENSE).search("كم سعر تمر الخلاص؟", k=3)
    assert "الخلاص" in hybrid[0].passage.text and hybrid[0].lexical > 0
    assert hybrid[0].score > [h for h in dense if h.row == hybrid[0].row][0].score
    assert all(h.lexical == 0 for h in dense if h.passage.lang != "ar")


@pytest.mark.parametrize("seed", range(5))
def test_second_highest_is_what_a_partition_gives(seed):
    from qa.retrieve import second_highest

    rng = np.random.default_rng(seed)
    for n in (0, 1, 2, 3, 50):
        values = rng.integers(0, 4, size=n).astype(np.float32)  # ties, the maximum among them
        expected = float(np.partition(values, n - 2)[-2]) if n > 1 else 0.0
        assert second_highest(values) == expected


@pytest.mark.parametrize("seed", range(5))
def test_top_rows_is_a_stable_sort_cut_to_k(seed):
    from qa.retrieve import top_rows

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(10_000, size=500, replace=False))
    values = rng.integers(0, 20, size=500).astype(np.float32)  # many ties
    for k in (1, 10, 100, 499, 500, 600):
        expected = rows[np.argsort(-values, kind="stable")[:k]]
        assert top_rows(rows, values, k).tolist() == expected.tolist()
