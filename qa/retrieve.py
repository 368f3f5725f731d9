"""Question -> ranked Hits: dense passage search, refined by each passage's best sentence."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import faiss
import numpy as np

from qa.embedder import Embedder
from qa.index import Index
from qa.passages import Passage

# How many passages the first, dense stage hands to re-scoring.
CANDIDATES = 100
# A follow-up this short ("and when did it end?") leans on the previous question: its vector
# is added at this weight, so the topic carries over while the new question still leads.
FOLLOW_UP_MAX_WORDS = 6
CONTEXT_WEIGHT = 0.5


@dataclass(frozen=True)
class Hit:
    passage: Passage
    row: int  # the passage's row in the index
    score: float  # what hits are ranked by
    dense: float  # cosine(question, passage)
    sentence: tuple[int, int]  # the best-answering sentence, offsets relative to passage.text
    sentence_score: float  # cosine(question, that sentence)


class Retriever:
    """Searches one loaded index with the embedder that built it."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        index.check_model(embedder)
        self.index = index
        self.embedder = embedder

    def _candidates(self, query: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        total = self.index.vectors.ntotal if allowed is None else len(allowed)
        n = min(CANDIDATES, total)
        if n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        scores, rows = self.index.vectors.search(query[None, :], n, params=params)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def embed_question(self, question: str, context: str | None = None) -> np.ndarray:
        """The question's vector; a short follow-up borrows the topic of `context`."""
        if not context or len(question.split()) > FOLLOW_UP_MAX_WORDS:
            return self.embedder.embed([question], "query")[0]
        own, previous = self.embedder.embed([question, context], "query")
        query = own + CONTEXT_WEIGHT * previous
        return query / np.linalg.norm(query)

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
        allowed = None
        if articles is not None:
            wanted = set(articles)
            allowed = np.array(
                [i for i, p in enumerate(self.index.passages) if p.article in wanted], dtype=np.int64
            )
        rows, dense = self._candidates(query, allowed)
        hits = []
        for row, passage_score in zip(rows.tolist(), dense.tolist(), strict=True):
            first, last = self.index.sentence_rows[row], self.index.sentence_rows[row + 1]
            sentence_scores = self.index.sentence_vectors[first:last] @ query
            best = int(np.argmax(sentence_scores))
            best_score = float(sentence_scores[best])
            passage = self.index.passages[row]
            hits.append(
                Hit(
                    passage=passage,
                    row=row,
                    score=(passage_score + best_score) / 2,
                    dense=passage_score,
                    sentence=passage.sentences[best],
                    sentence_score=best_score,
                )
            )
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]
