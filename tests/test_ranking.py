"""The one scoring function (qa/ranking.py), on features with known values."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from qa.ranking import DENSE, LEXICAL, SHIPPED, Features, confidence, score


def features(
    dense,
    sentence=None,
    language=0.0,
    same=True,
    coverage=0.0,
    runner_up=0.0,
    bm25=0.0,
    **channels,
) -> Features:
    dense = np.atleast_1d(np.asarray(dense, np.float32))
    n = len(dense)

    def full(x, dtype=np.float32):
        return np.broadcast_to(np.asarray(x, dtype), (n,)).copy()

    return Features(
        dense=dense,
        sentence=dense if sentence is None else full(sentence),
        language=full(language),
        same_language=full(same, bool),
        coverage=full(coverage),
        runner_up=runner_up,
        bm25=full(bm25),
        channels={k: full(v) for k, v in channels.items()},
    )


# Just below the threshold on the cosine alone: what decides is the evidence added to it.
BELOW = SHIPPED.not_found_below - 0.02


def test_a_same_language_passage_needs_more_than_the_cosine():
    assert confidence(features(BELOW), SHIPPED)[0] < SHIPPED.not_found_below


def test_lexical_evidence_lifts_a_same_language_passage_over_the_threshold():
    share = 0.02 / SHIPPED.lexical + 0.05
    assert confidence(features(BELOW, coverage=share), SHIPPED)[0] > SHIPPED.not_found_below


def test_a_passage_in_the_other_language_is_allowed_the_cosine_it_loses():
    # A right answer across languages scores ~0.08 lower and has no lexical share.
    offset = SHIPPED.cross_lingual_offset
    assert offset > 0.02
    assert confidence(features(BELOW, same=False), SHIPPED)[0] > SHIPPED.not_found_below
    far = features(SHIPPED.not_found_below - offset - 0.01, same=False)
    assert confidence(far, SHIPPED)[0] < SHIPPED.not_found_below


def test_score_is_the_dense_mean_less_the_language_term_plus_standing_out_lexically():
    f = features([0.8, 0.7], sentence=[0.9, 0.6], language=[0.05, 0.0], coverage=[0.5, 0.2])
    f = replace(f, runner_up=0.2)
    expected = [(0.8 + 0.9) / 2 - 0.05 + 0.1 * (0.5 - 0.2), (0.7 + 0.6) / 2 + 0.1 * (0.2 - 0.2)]
    assert score(f, SHIPPED) == pytest.approx(expected, abs=1e-6)


def test_further_channels_count_for_other_language_passages_only():
    f = features([0.8, 0.8], same=[True, False], use=[0.9, 0.9])
    base = score(features([0.8, 0.8], same=[True, False]), SHIPPED)
    channel = SHIPPED.channels["use"]
    assert score(f, SHIPPED) == pytest.approx(
        [base[0], base[1] + channel.weight * (0.9 - channel.offset)], abs=1e-6
    )
    # Not computed (NaN), or a channel the weights do not know: nothing is added.
    assert score(features([0.8], same=False, use=np.nan), SHIPPED) == pytest.approx(base[1])
    assert score(features([0.8], same=False, other=0.9), SHIPPED) == pytest.approx(base[1])


def test_comparison_methods_are_other_weights_of_the_same_function():
    f = features([0.8, 0.7], coverage=[0.0, 0.9], bm25=[1.0, 7.5], use=[0.9, 0.9], same=False)
    assert score(f, DENSE) == pytest.approx([0.8, 0.7])
    assert score(f, LEXICAL) == pytest.approx([1.0, 7.5])


def test_bm25_counts_how_far_a_same_language_passage_falls_short_of_the_best():
    f = replace(
        features([0.8, 0.8, 0.8], bm25=[4.0, 2.0, 9.0], same=[True, True, False]), bm25_top=4.0
    )
    base = score(replace(f, bm25_top=0.0, bm25=np.zeros(3, np.float32)), SHIPPED)
    w = SHIPPED.lexical_bm25
    # The best gets nothing, half of it loses half the weight, another language is untouched
    # (its BM25 against a question in another language means nothing).
    assert score(f, SHIPPED) - base == pytest.approx([0.0, -w / 2, 0.0], abs=1e-6)
    # No same-language passage holds a term: nothing moves.
    none = replace(f, bm25=np.zeros(3, np.float32), bm25_top=0.0)
    assert score(none, SHIPPED) == pytest.approx(base)


def test_hubness_lowers_other_language_passages_only():
    hub = np.array([0.02, -0.02, 0.02], np.float32)
    f = features([0.8, 0.8, 0.8], same=[False, False, True], use=[0.3, 0.3, 0.3])
    with_hub = replace(f, hubness={"main": hub, "use": hub})
    channel = SHIPPED.channels["use"]
    per_unit = SHIPPED.hubness + channel.weight * channel.hubness
    assert score(with_hub, SHIPPED) - score(f, SHIPPED) == pytest.approx(
        [-0.02 * per_unit, 0.02 * per_unit, 0.0], abs=1e-6
    )
    # NaN (not measured) counts as no hubness.
    nan = replace(f, hubness={"main": np.full(3, np.nan, np.float32)})
    assert score(nan, SHIPPED) == pytest.approx(score(f, SHIPPED))


def test_a_second_encoder_with_a_confidence_share_decides_for_other_language_passages():
    channel = SHIPPED.channels["use"]
    assert channel.confidence > 0
    f = features([0.8, 0.8, 0.8], same=[False, False, True], use=[0.2, np.nan, 0.2])
    sure = confidence(f, SHIPPED)
    # Measured: its share replaces the fixed allowance; not measured: the allowance stays;
    # a same-language passage is never touched by it.
    assert sure[0] == pytest.approx(0.8 + channel.confidence_offset + channel.confidence * 0.2)
    assert sure[1] == pytest.approx(0.8 + SHIPPED.cross_lingual_offset)
    assert sure[2] == pytest.approx(0.8)
    # A hub passage (close to every question) is less sure.
    hub = replace(f, hubness={"use": np.array([0.1, 0.0, 0.0], np.float32)})
    assert confidence(hub, SHIPPED)[0] == pytest.approx(sure[0] - channel.confidence * 0.1)
