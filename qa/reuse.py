"""Vectors an update need not compute: passages that read exactly as ones it already has.

Three kinds, all found before embedding starts (`plan_reuse`), all given the very values the
encoders gave the first time (float16 as stored, or the float32 of the same run):
  kept    a passage of a changed article that reads as in the article's indexed version:
          editing one paragraph of a long article re-embeds that paragraph only;
  found   a passage that reads as any row the index holds (each segment keeps a digest of
          what its rows read): a story republished word for word by another site, days later;
  copies  a passage that reads as one embedded earlier in the same run: news sites republish
          wire stories and each other's articles, and an archive holds every copy. The copy
          takes its original's vectors, from the same batch or, held in memory until the last
          copy is served, from an earlier one.
What "reads" means: the text, its subheading, the title where the model reads it, and the
sentences: what every encoder is given (`Passage.reads`)."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.embedder import Embedder, EncoderStamp
from qa.embedding import Embedded, Embedding, Progress
from qa.index import Index, Settings
from qa.passages import Passage
from qa.segment import Channel, Segment

# Originals held in memory at once for copies in later batches (float16, about 11 KB each with
# e5 and USE): past this, a later copy is embedded again rather than memory grown.
MAX_HELD = 20_000

Vectors = dict[str, tuple[np.ndarray, np.ndarray]]  # channel -> (passage vector, sentences)


@dataclass(frozen=True)
class Kept:
    """Where the vectors of a passage already are: row `row` of `segment`."""

    segment: Segment
    row: int


@dataclass
class Reuse:
    """What an update takes instead of embedding, by `id()` of the fresh passages."""

    kept: dict[int, Kept] = field(default_factory=dict)
    copies: dict[int, Passage] = field(default_factory=dict)  # copy -> its original
    # Per original needed after its own batch: the last batch holding a copy of it.
    held_until: dict[int, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.kept) + len(self.copies)


def plan_reuse(
    old: Index | None, fresh: list[Passage], batches: Sequence[list[Passage]], settings: Settings
) -> Reuse:
    """What of `fresh` (cut in `batches`, in order) is kept or copied rather than embedded."""
    reuse = Reuse(kept=_kept(old, fresh, settings))
    if not settings.with_title:  # a segment's digests leave the title out
        reuse.kept.update(_found(old, fresh, reuse.kept))
    first: dict[bytes, tuple[Passage, int]] = {}
    # Originals with copies in later batches: (its batch, it, [(batch, copy)...]).
    later: dict[int, tuple[int, Passage, list[tuple[int, Passage]]]] = {}
    for n, batch in enumerate(batches):
        for p in batch:
            if id(p) in reuse.kept:
                continue
            original, m = first.setdefault(_reads(p, settings), (p, n))
            if original is p:
                continue
            if m == n:
                reuse.copies[id(p)] = original
            else:
                later.setdefault(id(original), (m, original, []))[2].append((n, p))
    # Each is held from its batch to its last copy's; at most MAX_HELD at once, those that
    # start first first (the active ones are the holds whose last batch is not yet past).
    ends: list[int] = []
    for key, (m, original, copies) in sorted(later.items(), key=lambda item: item[1][0]):
        while ends and ends[0] < m:
            heapq.heappop(ends)
        if len(ends) >= MAX_HELD:
            continue  # its copies are embedded again: memory stays bounded
        last = copies[-1][0]
        heapq.heappush(ends, last)
        reuse.held_until[key] = last
        reuse.copies.update((id(copy), original) for _, copy in copies)
    return reuse


def _kept(old: Index | None, fresh: list[Passage], settings: Settings) -> dict[int, Kept]:
    """The passages of changed articles that read as in the article's indexed version."""
    if old is None:
        return {}
    segments = {s.id: s for s in old.segments}
    by_article: dict[str, list[Passage]] = {}
    for p in fresh:
        by_article.setdefault(p.article, []).append(p)
    kept: dict[int, Kept] = {}
    for path, passages in by_article.items():
        record = old.articles.get(path)
        if record is None:
            continue
        segment = segments[record.segment]
        before: dict[bytes, int] = {}
        for row in range(record.first, record.first + record.passages):
            before.setdefault(_reads(segment.passage(row, record.title, path), settings), row)
        for p in passages:
            row = before.get(_reads(p, settings))
            if row is not None:
                kept[id(p)] = Kept(segment, row)
    return kept


def _reads(p: Passage, settings: Settings) -> bytes:
    return p.reads(settings.with_title)


def _found(old: Index | None, fresh: list[Passage], kept: dict[int, Kept]) -> dict[int, Kept]:
    """The passages not `kept` that read as a row of any of `old`'s segments (by the digests
    a segment keeps of its rows), with that row: a copy of a paragraph indexed before."""
    wanted = [p for p in fresh if id(p) not in kept]
    segments = [s for s in (old.segments if old else []) if s.reads is not None and s.rows]
    if not wanted or not segments:
        return {}
    digests = np.frombuffer(b"".join(p.reads() for p in wanted), np.uint64).reshape(-1, 2)
    found: dict[int, Kept] = {}
    for segment in segments:
        order = np.argsort(segment.reads[:, 0], kind="stable")
        keys = segment.reads[order, 0]
        at = np.minimum(np.searchsorted(keys, digests[:, 0]), len(keys) - 1)
        rows = order[at]
        same = (segment.reads[rows] == digests).all(axis=1)
        for i in np.flatnonzero(same).tolist():
            found.setdefault(id(wanted[i]), Kept(segment, int(rows[i])))
    return found


def reusing(embedding: Embedding, reuse: Reuse, stamps: dict[str, EncoderStamp]) -> Embedding:
    """`embedding`, handed only the passages `reuse` does not provide, its batches completed
    with the kept and copied passages' vectors, in order."""
    if not reuse:
        return embedding

    def embed(
        batches: Sequence[list[Passage]],
        embedder: Embedder,
        settings: Settings,
        progress: Progress | None,
    ) -> Embedded:
        todo = [
            [p for p in b if id(p) not in reuse.kept and id(p) not in reuse.copies] for b in batches
        ]
        inner = embedding(todo, embedder, settings, progress)
        held: dict[int, Vectors] = {}
        try:
            for n, (batch, (_, channels)) in enumerate(zip(batches, inner, strict=True)):
                if not batch:
                    yield batch, channels
                    continue
                vectors = _batch_vectors(batch, channels, reuse, held, stamps)
                for p, v in zip(batch, vectors, strict=True):
                    if reuse.held_until.get(id(p), -1) > n:
                        held[id(p)] = {
                            k: (a.astype(np.float16), b.astype(np.float16))
                            for k, (a, b) in v.items()
                        }
                for done in [k for k in held if reuse.held_until[k] <= n]:
                    del held[done]
                yield batch, _channels(vectors, stamps)
        finally:
            inner.close()

    return embed


def _batch_vectors(
    batch: list[Passage],
    channels: dict[str, Channel],
    reuse: Reuse,
    held: dict[int, Vectors],
    stamps: dict[str, EncoderStamp],
) -> list[Vectors]:
    """Each passage's vectors: embedded (in order in `channels`), kept, or its original's."""
    out: list[Vectors] = []
    at = dict.fromkeys(stamps, (0, 0))  # channel -> (next passage row, next sentence row)
    here: dict[int, Vectors] = {}
    for p in batch:
        where, original = reuse.kept.get(id(p)), reuse.copies.get(id(p))
        if original is not None:
            v = here[id(original)] if id(original) in here else held[id(original)]
        elif where is not None:
            segment, row = where.segment, where.row
            a, b = segment.sentence_rows[row], segment.sentence_rows[row + 1]
            v = {
                name: (
                    segment.channels[name].passages[row : row + 1][0],
                    segment.channels[name].sentences[a:b],
                )
                for name in stamps
            }
        else:
            v = {}
            for name in stamps:
                row, sentence = at[name]
                count = len(p.sentences)
                embedded = channels[name]
                v[name] = (
                    embedded.passages[row],
                    embedded.sentences[sentence : sentence + count],
                )
                at[name] = (row + 1, sentence + count)
        here[id(p)] = v
        out.append(v)
    return out


def _channels(vectors: list[Vectors], stamps: dict[str, EncoderStamp]) -> dict[str, Channel]:
    return {
        name: Channel(
            stamp,
            np.stack([v[name][0] for v in vectors]).astype(np.float32),
            np.concatenate([v[name][1] for v in vectors]).astype(np.float32),
        )
        for name, stamp in stamps.items()
    }
