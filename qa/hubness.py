"""Hubness: how close a passage is to any question at all, whatever the question asks.

Some passages sit near every question of a language: on the seed article a one-line pull quote
is the second encoder's nearest passage for English questions about the alliance's founding,
its members and a football score alike. Across languages no lexical evidence overrules such a
hub, so it wins questions it does not answer. A passage's hubness (the passage side of CSLS,
Lample et al. 2018) is the mean of its k highest cosines to generic news sentences in the
question's language (qa/data/background.json, written for this project; no eval set's text),
read as questions by the same encoder; qa/ranking.py subtracts it, centred on the candidates of
the passage's language so that a whole language is not moved (the language term's job).

The background sentences are embedded once per encoder and language, on the first question
that needs them (161 short sentences: about a second for e5 on a small CPU, once per process).
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
from functools import cache
from pathlib import Path

import numpy as np

from qa.config import cache_dir
from qa.embedder import Encoder

BACKGROUND = Path(__file__).parent / "data" / "background.json"

# Per encoder object (two encoders never share an entry, even with equal fingerprints):
# language -> its background vectors.
_vectors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@cache
def background_texts(lang: str) -> tuple[str, ...]:
    """The generic news sentences of `lang` ("ar" or "en"; none for another language)."""
    texts = json.loads(BACKGROUND.read_text(encoding="utf-8"))
    return tuple(texts.get(lang, ()))


def background(encoder: Encoder, lang: str) -> np.ndarray:
    """`lang`'s background sentences embedded as questions by `encoder`: once per process,
    and once per machine (kept in the cache folder by the encoder's weights), so that a cold
    `qa ask` reads 161 vectors instead of embedding 161 sentences."""
    known = _vectors.setdefault(encoder, {})
    if lang not in known:
        texts = background_texts(lang)
        if not texts:
            known[lang] = np.zeros((0, encoder.dim), np.float32)
            return known[lang]
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
        saved = cache_dir() / "hubness" / f"{encoder.fingerprint}-{encoder.dim}-{lang}-{digest}.npy"
        try:
            known[lang] = np.load(saved, allow_pickle=False)
        except (OSError, ValueError):
            vectors = np.asarray(encoder.embed(list(texts), "query"), np.float32)
            known[lang] = vectors
            try:
                saved.parent.mkdir(parents=True, exist_ok=True)
                tmp = saved.with_name(f".{saved.name}.{os.getpid()}.tmp")
                with tmp.open("wb") as fh:  # a path would get ".npy" appended
                    np.save(fh, vectors, allow_pickle=False)
                os.replace(tmp, saved)
            except OSError:
                pass  # a read-only cache only costs embedding them again next time
    return known[lang]


def hubness(passages: np.ndarray, background: np.ndarray, k: int) -> np.ndarray:
    """Per passage (rows of normalized vectors): the mean of its `k` highest cosines to the
    `background` vectors; 0 when there is no background."""
    if not len(background) or not len(passages):
        return np.zeros(len(passages), np.float32)
    sims = passages @ background.T
    k = max(1, min(k, sims.shape[1]))
    return np.partition(sims, -k, axis=1)[:, -k:].mean(axis=1).astype(np.float32)


def centred(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """`values` minus the mean of the values of their group (e.g. their passage language)."""
    out = np.asarray(values, np.float32).copy()
    for g in np.unique(groups):
        mask = groups == g
        out[mask] -= out[mask].mean()
    return out
