"""Question -> ranked Hits: dense search corrected for language bias, fused with BM25 evidence.

A passage's score is built from these pieces, each measured on XQuAD (docs/retrieval.md):
  dense     mean(cosine(question, passage), cosine(question, its best sentence));
  language  minus the question's similarity to the mean passage of that passage's language,
            relative to the mean of all passages: the model prefers passages in the question's
            language whatever they say, and this removes exactly that preference. In a
            one-language collection it is a constant and changes nothing;
  lexical   for passages in the question's language only, LEXICAL_WEIGHT x the idf-weighted
            share of the question's terms that the passage holds, minus the share that the
            second-best passage holds: what counts is standing out, so that many weak matches
            in the question's language cannot push down the right passage in another language;
  second    for passages in another language only, and only when the embedder has a second
            encoder (qa/crosslingual.py) whose vectors the index holds: SECOND_WEIGHT x (its
            dense score, language-corrected the same way, minus SECOND_OFFSET).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import faiss
import numpy as np

from qa.embedder import Embedder
from qa.index import Index
from qa.lexical import LexicalIndex
from qa.passages import Passage
from qa.text import script

# How many passages each first stage (dense, lexical) hands to re-scoring.
CANDIDATES = 100
# A follow-up this short ("and when did it end?") leans on the previous question: its vector
# is added at this weight, so the topic carries over while the new question still leads.
FOLLOW_UP_MAX_WORDS = 6
CONTEXT_WEIGHT = 0.5
# Weight of the lexical share (0..1) against cosines; chosen on the XQuAD dev split.
LEXICAL_WEIGHT = 0.1
# A language's mean passage is shrunk toward the mean of all passages as if this many average
# passages were added: with only a handful of passages in a language, their mean is their
# topic rather than their language.
LANGUAGE_PRIOR_PASSAGES = 10.0
METHODS = ("hybrid", "dense", "lexical")
# The second encoder's term on other-language passages: w x (dense - offset). Without the offset
# the other language's passages gain a noisy extra term and pull same-language questions away
# from their own-language answer in a mixed collection. The offset and the weight's scale come
# from the XQuAD dev split, whose best weight is 0.1; half of it is shipped: XQuAD questions are
# translations, which flatters an encoder trained on translation pairs, and at 0.1 the encoder
# already overrides e5 on close calls in real news (docs/retrieval.md). 0.05 keeps two thirds
# of the gain.
SECOND_WEIGHT = 0.05
SECOND_OFFSET = 0.1


@dataclass(frozen=True)
class Hit:
    passage: Passage
    row: int  # the passage's row in the index
    score: float  # what hits are ranked by
    dense: float  # cosine(question, passage)
    sentence: tuple[int, int]  # the best-answering sentence, offsets relative to passage.text
    sentence_score: float  # cosine(question, that sentence)
    lexical: float = (
        0.0  # idf-weighted share of the question's terms in the passage (same language)
    )
    cross_lingual: bool = False  # the passage is not in the question's language
    second: float | None = None  # the second encoder's corrected dense score, where it counted


def language_offsets(
    vectors: np.ndarray, langs: np.ndarray, prior: float = LANGUAGE_PRIOR_PASSAGES
) -> np.ndarray:
    """Per passage: its language's (shrunk) mean vector minus the mean of all passages."""
    offsets = np.zeros_like(vectors)
    if not len(vectors):
        return offsets
    mean = vectors.mean(0)
    for lang in np.unique(langs):
        mask = langs == lang
        lang_mean = (vectors[mask].sum(0) + prior * mean) / (mask.sum() + prior)
        offsets[mask] = lang_mean - mean
    return offsets


class Retriever:
    """Searches one loaded index with the embedder that built it."""

    def __init__(self, index: Index, embedder: Embedder, method: str = "hybrid") -> None:
        """`method`: "hybrid" (the default everywhere), or "dense" / "lexical" for comparisons."""
        index.check_model(embedder)
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
        self.method = method
        self.index = index
        self.embedder = embedder
        self.vectors = index.passage_vectors()
        self.langs = np.array([p.lang for p in index.passages])
        langs = sorted(set(self.langs.tolist()))
        offsets = language_offsets(self.vectors, self.langs)
        # One offset vector per language: the correction is q . offset[lang(p)].
        self._lang_of = np.array([langs.index(x) for x in self.langs], dtype=np.int64)
        self._lang_offsets = np.array(
            [offsets[self.langs == x][0] for x in langs], dtype=np.float32
        ).reshape(len(langs), -1)
        self._langs = langs
        self.lexical = LexicalIndex([p.text for p in index.passages])
        # The second encoder counts only where the index holds its vectors (check_model has
        # refused a different one) and the embedder can embed the question with it.
        self.second = getattr(embedder, "second", None)
        if index.second is None or index.second_passages is None:
            self.second = None
        if self.second is not None:
            offsets = language_offsets(index.second_passages, self.langs)
            self._second_offsets = np.array(
                [offsets[self.langs == x][0] for x in langs], dtype=np.float32
            ).reshape(len(langs), -1)

    def _dense(self, query: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Cosine to the question for the FAISS top candidates of each language, -inf elsewhere.

        The language correction shifts a whole language by one constant, so the best
        passages after correction are among the best of each language before it.
        """
        dense = np.full(len(self.langs), -np.inf, dtype=np.float32)
        for lang in range(len(self._langs)):
            ids = np.flatnonzero(allowed & (self._lang_of == lang))
            if not len(ids):
                continue
            params = (
                None
                if len(ids) == len(allowed)
                else faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids.astype(np.int64)))
            )
            scores, rows = self.index.vectors.search(
                query[None, :], min(CANDIDATES, len(ids)), params=params
            )
            found = rows[0] >= 0
            dense[rows[0][found]] = scores[0][found]
        return dense

    def embed_question(self, question: str, context: str | None = None) -> np.ndarray:
        """The question's vector; a short follow-up borrows the topic of `context`."""
        if not self._is_follow_up(question, context):
            return self.embedder.embed([question], "query")[0]
        own, previous = self.embedder.embed([question, context], "query")
        query = own + CONTEXT_WEIGHT * previous
        return query / np.linalg.norm(query)

    def embed_question_second(self, question: str, context: str | None = None) -> np.ndarray:
        """The question's vector by the second encoder, built like `embed_question`'s."""
        if not self._is_follow_up(question, context):
            return self.second.embed([question])[0]
        own, previous = self.second.embed([question, context])
        query = own + CONTEXT_WEIGHT * previous
        return query / np.linalg.norm(query)

    def _second_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per row: mean(cosine to the passage, to its best sentence) minus the language term."""
        index, starts = self.index, self.index.sentence_rows
        passage = index.second_passages[rows] @ query
        best = np.array(
            [(index.second_sentences[starts[r] : starts[r + 1]] @ query).max() for r in rows],
            dtype=np.float32,
        )
        return (passage + best) / 2 - (self._second_offsets @ query)[self._lang_of[rows]]

    @staticmethod
    def _is_follow_up(question: str, context: str | None) -> bool:
        return bool(context) and len(question.split()) <= FOLLOW_UP_MAX_WORDS

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
        query = self.embed_question(question, context)
        n = len(self.index.passages)
        allowed = np.ones(n, bool)
        if articles is not None:
            wanted = set(articles)
            allowed = np.array([p.article in wanted for p in self.index.passages], dtype=bool)
        if not allowed.any():
            return []
        dense = self._dense(query, allowed)
        shifted = dense - (self._lang_offsets @ query)[self._lang_of]

        words = f"{context} {question}" if self._is_follow_up(question, context) else question
        same = self.langs == script(question)
        bm25, coverage = self.lexical.scores(words)
        if self.method == "lexical":
            shifted = np.where(allowed, bm25, -np.inf)
        coverage = np.where(same & allowed, coverage, 0.0)
        # The share that a passage which does not answer still reaches: the runner-up's.
        runner_up = (
            float(np.sort(coverage[same & allowed])[-2]) if (same & allowed).sum() > 1 else 0.0
        )

        rows = np.flatnonzero(allowed & np.isfinite(shifted))
        top = rows[np.argsort(-shifted[rows], kind="stable")[:CANDIDATES]]
        rows = np.flatnonzero(allowed)
        lexical_top = rows[np.argsort(-coverage[rows], kind="stable")[:CANDIDATES]]
        lexical_top = lexical_top[coverage[lexical_top] > 0]
        candidates = np.concatenate([top, np.setdiff1d(lexical_top, top)])

        # The second encoder: for other-language candidates only, so a question over a
        # collection in its own language never runs it.
        second = {}
        other = candidates[~same[candidates]]
        if self.second is not None and self.method == "hybrid" and len(other):
            second_query = self.embed_question_second(question, context)
            second = dict(
                zip(other.tolist(), self._second_scores(second_query, other).tolist(), strict=True)
            )

        hits = []
        for row in candidates.tolist():
            first, last = self.index.sentence_rows[row], self.index.sentence_rows[row + 1]
            sentence_scores = self.index.sentence_vectors[first:last] @ query
            best = int(np.argmax(sentence_scores))
            best_score = float(sentence_scores[best])
            passage = self.index.passages[row]
            if not np.isfinite(dense[row]):  # a lexical-only candidate: score it densely too
                dense[row] = self.vectors[row] @ query
                shifted[row] = dense[row] - self._lang_offsets[self._lang_of[row]] @ query
            lexical = float(coverage[row])
            language_bias = float(dense[row] - shifted[row])
            score = (float(dense[row]) + best_score) / 2 - language_bias
            if same[row] and self.method == "hybrid":
                score += LEXICAL_WEIGHT * (lexical - runner_up)
            elif row in second:
                score += SECOND_WEIGHT * (second[row] - SECOND_OFFSET)
            elif self.method == "lexical":
                score = float(bm25[row])
            hits.append(
                Hit(
                    passage=passage,
                    row=row,
                    score=score,
                    dense=float(dense[row]),
                    sentence=passage.sentences[best],
                    sentence_score=best_score,
                    lexical=lexical,
                    cross_lingual=not same[row],
                    second=second.get(row),
                )
            )
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]
