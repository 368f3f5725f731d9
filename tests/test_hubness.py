"""Hubness (qa/hubness.py): pure functions against brute force; the background embedded once."""

from __future__ import annotations

import numpy as np
import pytest

from qa import hubness
from tests.fakes import HashingEncoder, unit


def test_hubness_is_the_mean_of_the_k_highest_cosines():
    rng = np.random.default_rng(0)
    passages, background = unit(rng, 20, 16), unit(rng, 50, 16)
    for k in (1, 5, 50, 80):
        expected = [sorted(background @ p)[-min(k, 50) :] for p in passages]
        got = hubness.hubness(passages, background, k)
        assert got == pytest.approx(np.mean(expected, axis=1), abs=1e-6)


def test_a_passage_close_to_every_question_is_a_hub():
    rng = np.random.default_rng(1)
    background = unit(rng, 40, 16)
    generic = background.mean(0) / np.linalg.norm(background.mean(0))
    specific = unit(rng, 1, 16)[0]
    h = hubness.hubness(np.stack([generic, specific]), background, 10)
    assert h[0] > h[1]


def test_no_background_means_no_hubness():
    assert hubness.hubness(np.ones((3, 4), np.float32), np.zeros((0, 4)), 10).tolist() == [0, 0, 0]


def test_centred_removes_each_groups_mean():
    values = np.array([1.0, 3.0, 10.0, 20.0, 30.0])
    groups = np.array([0, 0, 1, 1, 1])
    assert hubness.centred(values, groups).tolist() == [-1.0, 1.0, -10.0, 0.0, 10.0]


def test_background_sentences_exist_in_both_languages():
    for lang in ("ar", "en"):
        texts = hubness.background_texts(lang)
        assert len(texts) > 100 and len(set(texts)) == len(texts)
    assert hubness.background_texts("other") == ()


def test_the_background_is_embedded_once_per_encoder_and_language():
    encoder = HashingEncoder()
    first = hubness.background(encoder, "ar")
    again = hubness.background(encoder, "ar")
    assert again is first and len(first) == len(hubness.background_texts("ar"))
    assert [kind for kind, _ in encoder.calls] == ["query"]
    hubness.background(encoder, "en")
    assert len(encoder.calls) == 2
    # Another encoder with the same weights (a later process) reads what was saved.
    other = HashingEncoder()
    assert (hubness.background(other, "ar") == first).all()
    assert other.calls == []
    # Other weights: embedded anew.
    changed = HashingEncoder(fingerprint="hash9999")
    hubness.background(changed, "ar")
    assert len(changed.calls) == 1
