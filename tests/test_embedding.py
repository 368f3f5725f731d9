"""Passages into vectors (qa/embedding.py): each encoder's channel, the encoders side by side."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import qa.embedding
from qa.articles import parse_article
from qa.embedding import embed_passages
from qa.index import Settings
from qa.sync import cut_articles
from tests.fakes import HashingEncoder, WordCounter, cross_encoder, hashing_embedder
from tests.samples import ARTICLES, SEED


def _passages(embedder):
    articles = {"seeds/000.txt": parse_article("seeds/000.txt", SEED.read_bytes())}
    for path, text in ARTICLES.items():
        articles[path] = parse_article(path, text.encode())
    return cut_articles(articles, embedder, Settings(max_tokens=512))[1]


def test_each_channel_holds_its_own_encoders_passage_and_sentence_vectors():
    embedder = hashing_embedder(cross_encoder(), max_tokens=512)
    passages = _passages(embedder)
    assert any(len(p.sentences) > 1 for p in passages) and any(
        len(p.sentences) == 1 for p in passages
    )
    settings = Settings(max_tokens=512)
    channels = embed_passages(passages, embedder, settings)

    assert list(channels) == ["main", "use"]
    for encoder in embedder.encoders:
        channel = channels[encoder.key]
        fresh = HashingEncoder(encoder.key, encoder.dim, encoder.seed)
        alone = fresh.embed([p.embed_text(settings.with_title) for p in passages], "passage")
        assert np.array_equal(channel.passages, alone)
        # A sentence of several is embedded alone; a passage of one sentence lends it its own.
        sentences = [
            fresh.embed([p.text[a:b]], "passage")[0] if len(p.sentences) > 1 else alone[i]
            for i, p in enumerate(passages)
            for a, b in p.sentences
        ]
        assert np.array_equal(channel.sentences, np.array(sentences))


class _Waiting(HashingEncoder):
    """The main encoder that embeds only once the other encoder has started: were the
    encoders run one after the other, it would wait in vain."""

    def __init__(self, started: threading.Event) -> None:
        super().__init__()
        self.started = started

    def embed(self, texts, kind):
        assert self.started.wait(timeout=10), "the further encoder did not run beside the main one"
        return super().embed(texts, kind)


class _Starting(HashingEncoder):
    def __init__(self, started: threading.Event) -> None:
        super().__init__("use", dim=64, seed=7)
        self.started = started

    def embed(self, texts, kind):
        self.started.set()
        return super().embed(texts, kind)


def test_further_encoders_run_beside_the_main_one_and_progress_is_reported_in_the_callers_thread():
    started = threading.Event()
    embedder = type(hashing_embedder())((_Waiting(started), _Starting(started)), WordCounter(512))
    passages = _passages(embedder)
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        assert threading.current_thread() is threading.main_thread()  # a chat's bar is its own
        seen.append((done, total))

    channels = embed_passages(passages, embedder, Settings(max_tokens=512), progress)

    sentences = sum(len(p.sentences) for p in passages if len(p.sentences) > 1)
    total = 2 * (len(passages) + sentences)
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert channels["use"].passages.shape == (len(passages), 64)


def test_an_interrupted_main_encoder_stops_the_others_at_their_next_call(monkeypatch):
    """Ctrl-C while e5 embeds: USE, beside it, stops after the call it is in, not after all
    of its texts (which would keep `qa index` running for seconds after the key)."""
    monkeypatch.setattr(qa.embedding, "EMBED_BATCH", 1)
    started = threading.Event()

    class Interrupted(HashingEncoder):
        def embed(self, texts, kind):
            started.wait(timeout=10)
            raise KeyboardInterrupt

    class Slow(_Starting):
        def embed(self, texts, kind):
            time.sleep(0.02)
            return super().embed(texts, kind)

    further = Slow(started)
    embedder = type(hashing_embedder())((Interrupted(), further), WordCounter(512))
    passages = _passages(embedder)
    with pytest.raises(KeyboardInterrupt):
        embed_passages(passages, embedder, Settings(max_tokens=512))
    texts = len(passages) + sum(len(p.sentences) for p in passages if len(p.sentences) > 1)
    assert 1 <= len(further.calls) <= 3 < texts
