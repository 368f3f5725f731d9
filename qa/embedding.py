"""Passages into vectors: every encoder's passage and sentence vectors, batch by batch.

`qa index` (qa/sync.py) hands the batches it commits to an `Embedding`: `embed_locally` here,
or qa/cluster.py's on a Ray cluster; either way each batch goes through `embed_passages`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor

import numpy as np

from qa.embedder import Embedder, Encoder, EncoderStamp
from qa.index import Settings
from qa.passages import Passage
from qa.segment import Channel

# Texts handed to an encoder at a time (it batches them further itself, by length): enough for
# its workers to stay busy to the end (64 left one of two idle at every call's tail: 12.2
# passages/s against 15.9 with 512, docs/benchmarks.md), and a progress report every few seconds.
EMBED_BATCH = 512

Progress = Callable[[int, int], None]  # (done, total) texts embedded
# Embeds consecutive batches of passages: yields each batch with its channels, in order, as
# soon as it is done (so that `update_index` commits as it goes).
Embedded = Generator[tuple[list[Passage], dict[str, Channel]], None, None]
Embedding = Callable[[Sequence[list[Passage]], Embedder, Settings, Progress | None], Embedded]


def embed_passages(
    passages: Sequence[Passage],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
) -> dict[str, Channel]:
    """Every encoder's (passage, sentence) vectors of `passages`, as channels.

    An encoder that can pool spans (`embed_spans`) gives the sentence vectors from the same
    pass as the passage's when `settings.sentences` is "late"; any other embeds each sentence
    of a multi-sentence passage on its own, and a passage of one sentence reuses its passage
    vector as its sentence vector.
    """
    texts = [p.embed_text(settings.with_title) for p in passages]
    multi = [i for i, p in enumerate(passages) if len(p.sentences) > 1]
    sentences = [passages[i].text[a:b] for i in multi for a, b in passages[i].sentences]
    late = _late(embedder, settings)
    total, done = _text_count(passages, embedder, settings), 0

    counting, caller, stopped = threading.Lock(), threading.get_ident(), threading.Event()

    def step(n: int) -> None:
        nonlocal done
        if stopped.is_set():  # the main encoder failed or was interrupted (Ctrl-C): stop too
            raise CancelledError
        with counting:
            done += n
        # Reported from the calling thread only: a caller's progress bar may belong to it (the
        # chat's does: Streamlit draws only from the script's own thread).
        if progress and threading.get_ident() == caller:
            progress(done, total)

    def channel(encoder: Encoder, is_late: bool) -> Channel:
        if is_late:
            vectors, sentence_vectors = _embed_late(encoder, passages, texts, step)
        else:
            vectors = _embed_in_batches(encoder, texts + sentences, step)
            vectors, sentence_vectors = _sentence_layout(passages, vectors)
        return Channel(EncoderStamp.of(encoder), vectors, sentence_vectors)

    # The further encoders run beside the main one: USE keeps one BLAS thread, and alone it
    # would leave the other cores idle (docs/benchmarks.md).
    (main, *further), (main_late, *further_late) = embedder.encoders, late
    with ThreadPoolExecutor(max(1, len(further))) as pool:
        beside = [pool.submit(channel, e, lt) for e, lt in zip(further, further_late, strict=True)]
        try:
            channels = {main.key: channel(main, main_late)}
        except BaseException:
            stopped.set()  # leaving waits for the others: until their current call ends
            raise
        channels.update((e.key, f.result()) for e, f in zip(further, beside, strict=True))
    if progress and further:
        progress(done, total)  # what the further encoders did after the main one was done
    return channels


def _embed_in_batches(
    encoder: Encoder, texts: list[str], step: Callable[[int], None]
) -> np.ndarray:
    chunks = [np.zeros((0, encoder.dim), np.float32)]
    for at in range(0, len(texts), EMBED_BATCH):
        chunks.append(encoder.embed(texts[at : at + EMBED_BATCH], "passage"))
        step(len(chunks[-1]))
    return np.concatenate(chunks)


def _embed_late(
    encoder: Encoder, passages: Sequence[Passage], texts: list[str], step: Callable[[int], None]
) -> tuple[np.ndarray, np.ndarray]:
    """(passage vectors, sentence vectors), the sentences pooled from their passage's pass."""
    # A sentence's offsets in what the model reads: the passage text comes last in it.
    spans = [
        [(a + len(t) - len(p.text), b + len(t) - len(p.text)) for a, b in p.sentences]
        for p, t in zip(passages, texts, strict=True)
    ]
    vectors, sentence_vectors = [np.zeros((0, encoder.dim), np.float32)], []
    for at in range(0, len(texts), EMBED_BATCH):
        batch, pooled = encoder.embed_spans(  # type: ignore[attr-defined]
            texts[at : at + EMBED_BATCH], spans[at : at + EMBED_BATCH], "passage"
        )
        vectors.append(batch)
        sentence_vectors.extend(pooled)
        step(len(batch))
    sentences = np.concatenate(sentence_vectors) if sentence_vectors else vectors[0]
    return np.concatenate(vectors), np.ascontiguousarray(sentences, dtype=np.float32)


def _sentence_layout(
    passages: Sequence[Passage], vectors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(passage vectors, sentence vectors) from [passage texts..., multi-sentence sentences...]."""
    passage_vectors = vectors[: len(passages)]
    counts = np.array([len(p.sentences) for p in passages], dtype=np.int64)
    # Row of each sentence in `vectors`: a one-sentence passage points at its passage row.
    rows = np.repeat(np.arange(len(passages)), counts)
    multi = np.repeat(counts > 1, counts)
    rows[multi] = len(passages) + np.arange(int(multi.sum()))
    return (
        np.ascontiguousarray(passage_vectors, dtype=np.float32),
        np.ascontiguousarray(vectors[rows], dtype=np.float32).reshape(-1, vectors.shape[1]),
    )


def embed_locally(
    batches: Sequence[list[Passage]],
    embedder: Embedder,
    settings: Settings,
    progress: Progress | None = None,
) -> Embedded:
    """Each batch with its channels, embedded in this process, in order."""
    done, total = 0, sum(_text_count(b, embedder, settings) for b in batches)
    for batch in batches:

        def step(k: int, _: int, done: int = done) -> None:
            if progress:
                progress(done + k, total)

        yield batch, embed_passages(batch, embedder, settings, step) if batch else {}
        done += _text_count(batch, embedder, settings)


def _late(embedder: Embedder, settings: Settings) -> list[bool]:
    """Per encoder: whether its sentence vectors come from the passage's own pass."""
    return [settings.sentences == "late" and hasattr(e, "embed_spans") for e in embedder.encoders]


def _text_count(passages: Sequence[Passage], embedder: Embedder, settings: Settings) -> int:
    """How many texts embedding `passages` takes, all encoders together: each passage, and
    for an encoder that embeds them on their own, each sentence of a passage of several."""
    sentences = sum(len(p.sentences) for p in passages if len(p.sentences) > 1)
    return sum(len(passages) + (0 if late else sentences) for late in _late(embedder, settings))
