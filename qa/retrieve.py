"""Question -> ranked Hits: measure each candidate passage, then score them with qa/ranking.py.

Candidates come from two first stages: the main encoder's FAISS search within each language
(the language term shifts a whole language by one constant, so the best passages after it are
among the best of each language before it) and the lexical share. For every candidate the
retriever measures `ranking.Features` (cosines to the passage and its best sentence, the
language term, the lexical share, and the further channels' scores for other-language passages)
and ranks by `ranking.score`. How the features are weighed lives only in qa/ranking.py.

Two more steps order what is shown, without changing a score: equal scores put the more recent
article first (`ranking.order`), and copies of a passage already kept (qa/duplicates.py) go
with it as `Hit.copies` rather than taking one of the k places.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date

import faiss
import numpy as np
from threadpoolctl import ThreadpoolController

from qa import ann, duplicates, hubness, ranking
from qa.embedder import Embedder, Encoder
from qa.index import Index
from qa.passages import Passage
from qa.ranking import Features, Weights, confidence, score
from qa.segment import LANGS
from qa.text import script


@dataclass(frozen=True)
class Hit:
    passage: Passage
    row: int  # the passage's row in the index
    score: float  # what hits are ranked by (ranking.score)
    confidence: float  # what the "not found" decision reads (ranking.confidence)
    dense: float  # cosine(question, passage)
    sentence: tuple[int, int]  # the best-answering sentence, offsets relative to passage.text
    sentence_score: float  # cosine(question, that sentence)
    lexical: float = 0.0  # idf-weighted share of the question's terms in the passage
    cross_lingual: bool = False  # the passage is not in the question's language
    channels: Mapping[str, float] = field(default_factory=dict)  # further encoders' scores
    hubness: Mapping[str, float] = field(default_factory=dict)  # per encoder (qa/hubness.py)
    # Rows of the same (or a near-identical) passage elsewhere, best first: syndicated copies.
    copies: tuple[int, ...] = ()


def recency(published: str | None) -> float:
    """A number that grows with an ISO publication date; -inf when there is none."""
    try:
        return float(date.fromisoformat(published).toordinal()) if published else -np.inf
    except ValueError:
        return -np.inf


def top_rows(rows: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """The `k` rows with the highest values, best first, ties in row order: what a stable sort
    of all of them would give, in time linear in their number."""
    if len(rows) > k:
        kth = np.partition(values, len(values) - k)[len(values) - k]
        above = np.flatnonzero(values > kth)
        ties = np.flatnonzero(values == kth)[: k - len(above)]
        keep = np.sort(np.concatenate([above, ties]))
        rows, values = rows[keep], values[keep]
    return rows[np.argsort(-values, kind="stable")]


def second_highest(values: np.ndarray) -> float:
    """The second-highest of `values` (ties count twice), 0 when there are fewer than two: what
    a partition gives, in two plain passes."""
    if len(values) < 2:
        return 0.0
    i = int(np.argmax(values))
    return float(max(values[:i].max(initial=-np.inf), values[i + 1 :].max(initial=-np.inf)))


def offsets_from_sums(
    sums: np.ndarray, counts: np.ndarray, names: list[str], prior: float
) -> np.ndarray:
    """`language_offsets` from per-language sums and counts (rows in LANGS order), for the
    languages in `names` (sorted)."""
    dim = sums.shape[1]
    offsets = np.zeros((len(names), dim), np.float32)
    if not counts.sum():
        return offsets
    mean = sums.sum(0) / counts.sum()
    for i, lang in enumerate(names):
        k = LANGS.index(lang)
        offsets[i] = (sums[k] + prior * mean) / (counts[k] + prior) - mean
    return offsets


def _hubness(
    encoder: Encoder,
    vectors: np.ndarray,
    lang: str,
    groups: np.ndarray,
    other: np.ndarray,
    k: int,
) -> np.ndarray:
    """Per candidate: the centred hubness of the other-language ones (`other`, whose `vectors`
    and language `groups` are given) for pseudo-questions in `lang`; NaN for the rest."""
    values = np.full(len(other), np.nan, dtype=np.float32)
    raw = hubness.hubness(vectors, hubness.background(encoder, lang), k)
    values[other] = hubness.centred(raw, groups)
    return values


def language_offsets(vectors: np.ndarray, langs: np.ndarray, prior: float) -> np.ndarray:
    """Per language (sorted): its (shrunk) mean vector minus the mean of all passages."""
    names = sorted(set(langs.tolist()))
    offsets = np.zeros((len(names), vectors.shape[1] if vectors.ndim == 2 else 0), np.float32)
    if not len(vectors):
        return offsets
    mean = vectors.mean(0)
    for i, lang in enumerate(names):
        mask = langs == lang
        offsets[i] = (vectors[mask].sum(0) + prior * mean) / (mask.sum() + prior) - mean
    return offsets


@dataclass(frozen=True)
class _Part:
    """One searcher of a language (Index.by_language): its positions' rows (-1: dead), the
    live positions as a FAISS subset made once (None: all live), and their count."""

    rows: np.ndarray
    searcher: faiss.Index
    live: ann.Subset | None
    count: int

    @classmethod
    def of(cls, rows: np.ndarray, searcher: faiss.Index) -> _Part:
        live = rows >= 0
        count = int(live.sum())
        return cls(rows, searcher, None if count == len(rows) else ann.Subset(live), count)


class Retriever:
    """Searches one loaded index with the embedder that built it, ranked by `weights`."""

    def __init__(self, index: Index, embedder: Embedder, weights: Weights | None = None) -> None:
        """`weights`: the shipped ranking (`ranking.SHIPPED`) unless a comparison asks otherwise."""
        index.check_compatible(embedder)
        # One question is one small search per language and a few small products: OpenMP and
        # BLAS threads only add wake-ups, and on a busy 2-core machine they made a search ten
        # times slower (docs/scale.md). FAISS is told once; BLAS only while searching.
        faiss.omp_set_num_threads(1)
        self._threads = ThreadpoolController()
        self.index = index
        self.embedder = embedder
        self.weights = weights = weights or ranking.SHIPPED
        names = np.unique(index.langs).tolist()
        self._names = {name: i for i, name in enumerate(names)}
        self._lang_of = np.searchsorted(np.array(names), index.langs).astype(np.int8)
        self._searchers: list[list[_Part]] | None = None
        self._offsets = {
            name: offsets_from_sums(*index.language_means(name), names, weights.language_prior)
            for name in index.stamps
        }
        self.lexical = index.lexical
        dates = np.array([recency(index.articles[a].published) for a in index.article_names])
        self._recency = dates[index.row_article] if len(dates) else np.zeros(0)
        # The further channels that count: held by the index, made by this embedder, weighted.
        self._extra: dict[str, Encoder] = {
            e.key: e
            for e in embedder.encoders[1:]
            if e.key in index.stamps and e.key in weights.channels
        }

    def _parts(self) -> list[list[_Part]]:
        """Per language, its searchers (Index.by_language) with what every question reuses."""
        if self._searchers is None:
            self._searchers = [
                [_Part.of(rows, searcher) for rows, searcher in parts]
                for parts in self.index.by_language().values()
            ]
        return self._searchers

    def _first_stage(
        self, query: np.ndarray, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cosines) of each language's FAISS top candidates among the `allowed` rows
        (every row when None); approximate where the index is: the exact vectors score the
        candidates later. Costs what the searches cost, not a pass over every row."""
        k = self.weights.candidates
        kept_rows, kept_scores = [], []
        for parts in self._parts():
            rows, scores = [], []
            for part in parts:
                subset, count = part.live, part.count
                if allowed is not None:
                    keep = (part.rows >= 0) & allowed[part.rows]
                    count = int(keep.sum())
                    subset = None if count == len(keep) else ann.Subset(keep)
                if not count:
                    continue
                found_scores, found = ann.search(part.searcher, query, min(k, count), subset)
                ok = found >= 0
                rows.append(part.rows[found[ok]])
                scores.append(found_scores[ok])
            if rows:
                rows, scores = np.concatenate(rows), np.concatenate(scores)
                best = top_rows(np.arange(len(rows)), scores, k)
                kept_rows.append(rows[best])
                kept_scores.append(scores[best])
        if not kept_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        return np.concatenate(kept_rows), np.concatenate(kept_scores)

    def is_follow_up(self, question: str, context: str | None) -> bool:
        return bool(context) and len(question.split()) <= self.weights.follow_up_max_words

    def embed_question(
        self, question: str, context: str | None = None, encoder: Encoder | None = None
    ) -> np.ndarray:
        """The question's vector by `encoder` (the main one by default); a short follow-up
        borrows the topic of `context`."""
        encoder = encoder or self.embedder.main
        if not self.is_follow_up(question, context):
            return encoder.embed([question], "query")[0]
        own, previous = encoder.embed([question, context], "query")
        query = own + self.weights.context_weight * previous
        return query / np.linalg.norm(query)

    def _channel_scores(self, name: str, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per row: mean(cosine to the passage, to its best sentence) minus the language term."""
        passage = self.index.vectors(name, rows) @ query
        best = np.array(
            [(self.index.sentence_vectors(name, r) @ query).max() for r in rows.tolist()],
            dtype=np.float32,
        )
        return (passage + best) / 2 - (self._offsets[name] @ query)[self._lang_of[rows]]

    def search(
        self,
        question: str,
        k: int = 5,
        articles: Collection[str] | None = None,
        context: str | None = None,
    ) -> list[Hit]:
        """The `k` passages that best answer `question`, best first.

        `articles` restricts the search to those files; `context` is the previous question of
        a conversation, used when `question` is a short follow-up.
        """
        with self._threads.limit(limits=1, user_api="blas"):
            return self._search(question, k, articles, context)

    def _search(
        self,
        question: str,
        k: int,
        articles: Collection[str] | None,
        context: str | None,
    ) -> list[Hit]:
        w, index = self.weights, self.index
        query = self.embed_question(question, context)
        allowed = None if articles is None else index.rows_of(set(articles))
        if allowed is not None and not allowed.any():
            return []
        language = self._offsets["main"] @ query  # per language
        asked = self._names.get(script(question), -1)
        words = f"{context} {question}" if self.is_follow_up(question, context) else question
        bm25, coverage, mine = self._lexical(words, asked, allowed)
        # The share that a passage which does not answer still reaches: the runner-up's.
        runner_up = second_highest(coverage[mine])
        bm25_top = float(bm25[mine].max()) if len(mine) else 0.0
        candidates = self._candidates(
            query, language, allowed, bm25, top_rows(mine, coverage[mine], w.candidates)
        )
        same = self._lang_of[candidates] == asked
        index.prefetch("main", candidates)
        for name in self._extra:  # read only for the other language's candidates
            index.prefetch(name, candidates[~same])

        vectors = index.vectors("main", candidates)
        best_sentence, sentence_score = self._best_sentences(query, candidates)
        channels, hubs = self._across_languages(question, context, candidates, same, vectors)
        features = Features(
            dense=vectors @ query,
            sentence=sentence_score,
            language=language[self._lang_of[candidates]],
            same_language=same,
            coverage=np.where(same, coverage[candidates], 0.0),
            runner_up=runner_up,
            bm25=bm25[candidates],
            channels=channels,
            bm25_top=bm25_top,
            hubness=hubs,
        )
        scores, sure = score(features, w), confidence(features, w)
        ranked = ranking.order(scores, self._recency[candidates])
        kept = duplicates.collapse(ranked, vectors, lambda i: index.passages[candidates[i]].text, k)
        hits = []
        for i, copies in kept:
            row = int(candidates[i])
            passage = index.passages[row]
            hits.append(
                Hit(
                    passage=passage,
                    row=row,
                    score=float(scores[i]),
                    confidence=float(sure[i]),
                    dense=float(features.dense[i]),
                    sentence=passage.sentences[best_sentence[i]],
                    sentence_score=float(sentence_score[i]),
                    lexical=float(features.coverage[i]),
                    cross_lingual=not bool(same[i]),
                    channels={n: float(v[i]) for n, v in channels.items() if np.isfinite(v[i])},
                    hubness={n: float(v[i]) for n, v in hubs.items() if np.isfinite(v[i])},
                    copies=tuple(int(candidates[c]) for c in copies),
                )
            )
        return hits

    def _lexical(
        self, words: str, asked: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(BM25 per row, lexical share per row, the allowed rows in the question's language
        `asked` that hold any of its terms): the share counts in that language only."""
        bm25, coverage = self.lexical.scores(words)
        mine = np.flatnonzero(coverage > 0)  # a bool array has a fast path: 6x
        mine = mine[self._lang_of[mine] == asked]
        if allowed is not None:
            mine = mine[allowed[mine]]
        return bm25, coverage, mine

    def _candidates(
        self,
        query: np.ndarray,
        language: np.ndarray,
        allowed: np.ndarray | None,
        bm25: np.ndarray,
        lexical_top: np.ndarray,
    ) -> np.ndarray:
        """The first stage's best rows (by the dense score less the `language` term, or by
        BM25 for the lexical comparison method), then those of `lexical_top` it missed."""
        w = self.weights
        if w.dense:
            rows, cosines = self._first_stage(query, allowed)
            order = np.argsort(rows)  # ties in row order, as a stable sort of all rows gives
            rows, first = rows[order], cosines[order] - language[self._lang_of[rows[order]]]
        else:  # every allowed row
            rows = np.arange(len(bm25)) if allowed is None else np.flatnonzero(allowed)
            first = w.bm25 * bm25[rows]
        top = rows[np.argsort(-first, kind="stable")[: w.candidates]]
        return np.concatenate([top, np.setdiff1d(lexical_top, top)])

    def _best_sentences(
        self, query: np.ndarray, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: which of its sentences is closest to the question, and its cosine."""
        best = np.empty(len(candidates), np.int64)
        cosine = np.empty(len(candidates), np.float32)
        for i, row in enumerate(candidates.tolist()):
            scores = self.index.sentence_vectors("main", row) @ query
            best[i] = int(np.argmax(scores))
            cosine[i] = scores[best[i]]
        return best, cosine

    def _across_languages(
        self,
        question: str,
        context: str | None,
        candidates: np.ndarray,
        same: np.ndarray,
        vectors: np.ndarray,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(further channels' scores, hubness per encoder) of the other-language candidates
        (`same` is false for them), NaN elsewhere. Only they need it, so a question over a
        collection in its own language never runs the further encoders."""
        w = self.weights
        channels: dict[str, np.ndarray] = {}
        hubs: dict[str, np.ndarray] = {}
        other = ~same
        if not other.any():
            return channels, hubs
        lang, groups = script(question), self._lang_of[candidates[other]]
        if w.hubness:
            hubs["main"] = _hubness(
                self.embedder.main, vectors[other], lang, groups, other, w.hub_k
            )
        for name, encoder in self._extra.items():
            values = np.full(len(candidates), np.nan, dtype=np.float32)
            channel_query = self.embed_question(question, context, encoder)
            values[other] = self._channel_scores(name, channel_query, candidates[other])
            channels[name] = values
            if w.channels[name].hubness:
                found = self.index.vectors(name, candidates[other])
                hubs[name] = _hubness(encoder, found, lang, groups, other, w.hub_k)
        return channels, hubs
