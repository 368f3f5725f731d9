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
