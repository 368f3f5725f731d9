"""BM25 over Arabic- and English-aware terms: the lexical half of hybrid retrieval.

A term is a word folded the way Arabic search engines fold it (qa.text.normalize), its
conjunction prefix (و/ف before ال, بال, لل...) taken off, and then stemmed by Snowball: the
Arabic stemmer for Arabic words, the English one for Latin words. Frequent function words
(question words, particles) are not terms: they say nothing about which passage answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

from qa.rows import ranges
from qa.text import DIACRITICS, LONE_SURROGATE, TATWEEL, normalize

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_ARABIC = re.compile("[\u0600-\u06ff]")
# و/ف glued to a word that itself starts with a prefix Snowball knows: Snowball keeps "والمدينة".
_CONJUNCTION = re.compile("^[وف](?=(?:ال|بال|كال|لل)..)")

# Question words, particles, pronouns and auxiliaries, in folded form.
STOPWORDS_AR = frozenset(
    normalize(w)
    for w in """
    من في على إلى الى عن مع ما ماذا متى كيف أين اين كم هل لماذا لما أي اي أية ايه التي الذي الذين
    اللذين اللتين اللاتي هو هي هم هن هما نحن أنا انا أنت انت هذا هذه ذلك تلك هؤلاء أولئك هنا هناك
    كان كانت كانوا يكون تكون قد لقد لم لن لا إن ان أن أو او ثم بل لكن و ف ب ل ك حتى إذا اذا عند
    عندما بين كل بعض غير بعد قبل حول خلال منذ أيضا ايضا فقط ذات ذو التى وما وفي ومن به بها له لها
    فيه فيها منه منها عليه عليها إليه اليه الذى ماهو ماهي ما هو ما هي يا
""".split()
)
STOPWORDS = STOPWORDS_AR | frozenset(STOPWORDS_EN_PLUS)


@lru_cache(maxsize=2)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


@lru_cache(maxsize=200_000)
def term(word: str) -> str | None:
    """The search term for one word, or None for a function word."""
    word = LONE_SURROGATE.sub("", word)  # the stemmer encodes to UTF-8, which refuses them
    folded = normalize(word)
    if folded in STOPWORDS or not folded:
        return None
    if _ARABIC.search(word):
        # Marks and tatweel go before stemming; the full fold (ة -> ه, ى -> ي) comes after,
        # because Snowball's Arabic stemmer recognizes suffixes by ة and ى.
        marked = DIACRITICS.sub("", unicodedata.normalize("NFKC", word)).replace(TATWEEL, "")
        light = _CONJUNCTION.sub("", marked)
        return normalize(_stemmer("arabic").stemWord(light)) or folded
    return _stemmer("english").stemWord(folded)


def terms(text: str) -> list[str]:
    """The search terms of `text`, in order, function words left out.

    Diacritics and tatweel go first: a mark is not a word character, and "أسّس" would
    otherwise be cut at its shadda into two words.
    """
    return [
        t for t in map(term, _TOKEN.findall(DIACRITICS.sub("", text).replace(TATWEEL, ""))) if t
    ]


K1, B = 1.5, 0.75  # BM25's usual constants (Lucene's and bm25s's defaults)


@dataclass(frozen=True)
class TermCounts:
    """The terms of each of a block of texts, as sparse rows: what a segment saves so that the
    lexical index is assembled at start-up, never re-tokenized."""

    vocab: list[str]  # the block's own vocabulary
    indptr: np.ndarray  # int64, text i's terms are ids[indptr[i]:indptr[i + 1]]
    ids: np.ndarray  # int32 into vocab
    counts: np.ndarray  # int32, occurrences of the term in the text

    @classmethod
    def of(cls, texts: Sequence[str]) -> TermCounts:
        vocab: dict[str, int] = {}
        indptr, ids, counts = [0], [], []
        for text in texts:
            tally: dict[int, int] = {}
            for t in terms(text):
                i = vocab.setdefault(t, len(vocab))
                tally[i] = tally.get(i, 0) + 1
            ids.extend(tally)
            counts.extend(tally.values())
            indptr.append(len(ids))
        return cls(
            list(vocab),
            np.array(indptr, np.int64),
            np.array(ids, np.int32),
            np.array(counts, np.int32),
        )

    def take(self, rows: np.ndarray) -> TermCounts:
        """The counts of `rows` only, in that order."""
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        picked = ranges(starts, ends)
        indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
        return TermCounts(self.vocab, indptr, self.ids[picked], self.counts[picked])

    @classmethod
    def concat(cls, blocks: Sequence[TermCounts]) -> TermCounts:
        """The rows of `blocks`, one after another, over one vocabulary."""
        vocab: dict[str, int] = {}
        ids, counts, lengths = [], [], []
        for block in blocks:
            to_new = np.array([vocab.setdefault(t, len(vocab)) for t in block.vocab], np.int32)
            ids.append(to_new[block.ids] if len(block.ids) else np.zeros(0, np.int32))
            counts.append(block.counts)
            lengths.append(np.diff(block.indptr))
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64)
        return cls(
            list(vocab),
            indptr,
            np.concatenate(ids).astype(np.int32),
            np.concatenate(counts).astype(np.int32),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """What a segment saves. The vocabulary is one UTF-8 blob, a term a line (a numpy
        string array would give every term the width of the longest)."""
        blob = np.frombuffer("\n".join(self.vocab).encode("utf-8"), np.uint8)
        return {"vocab": blob, "indptr": self.indptr, "ids": self.ids, "counts": self.counts}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> TermCounts:
        text = arrays["vocab"].tobytes().decode("utf-8")
        vocab = text.split("\n") if text else []
        return cls(vocab, arrays["indptr"], arrays["ids"], arrays["counts"])


class LexicalIndex:
    """BM25 (Lucene variant) and the idf-weighted share of the question's terms, per text.

    Built from the term counts of blocks of texts (the index's segments) restricted to the rows
    that are live, in the order given: postings per term, so that a question touches only the
    texts that hold its terms.
    """

    def __init__(self, blocks: Iterable[tuple[TermCounts, np.ndarray]]) -> None:
        """`blocks`: (term counts, the local rows of it to take, in order), read one at a time.

        Postings are compact (a row as int32 and a count as uint16 per term and text), and the
        temporaries stay small: this runs at every start-up, on every text of the collection.
        """
        vocab: dict[str, int] = {}
        rows, ids, counts, lengths = [], [], [], []
        offset = 0
        for block, take in blocks:
            take = np.asarray(take, np.int64)
            to_global = np.array([vocab.setdefault(t, len(vocab)) for t in block.vocab], np.int32)
            n = (block.indptr[take + 1] - block.indptr[take]).astype(np.int32)
            if len(take) == len(block.indptr) - 1 and (np.diff(take) == 1).all():
                block_ids, block_counts = block.ids, block.counts  # every row, in order
            else:
                picked = ranges(block.indptr[take], block.indptr[take + 1])
                block_ids, block_counts = block.ids[picked], block.counts[picked]
            local = np.repeat(np.arange(len(take), dtype=np.int32), n)
            rows.append(local + np.int32(offset))
            ids.append(to_global[block_ids] if len(block_ids) else np.zeros(0, np.int32))
            counts.append(np.minimum(block_counts, np.iinfo(np.uint16).max).astype(np.uint16))
            lengths.append(np.bincount(local, block_counts, minlength=len(take)).astype(np.float32))
            offset += len(take)
            del block, block_ids, block_counts, local
        self.size = offset
        self.vocab = vocab
        tid = np.concatenate(ids) if ids else np.zeros(0, np.int32)
        del ids
        order = np.argsort(tid, kind="stable")
        self._ptr = np.searchsorted(tid[order], np.arange(len(vocab) + 1))
        del tid
        self._rows = np.concatenate(rows)[order] if rows else np.zeros(0, np.int32)
        del rows
        self._tf = np.concatenate(counts)[order] if counts else np.zeros(0, np.uint16)
        del counts, order
        length = np.concatenate(lengths) if lengths else np.zeros(0, np.float32)
        release_freed_memory()
        self.df = np.diff(self._ptr)
        average = float(length.mean()) if len(length) and length.mean() > 0 else 1.0
        self._norm = K1 * ((1 - B) + B * length / average)  # per text

    @classmethod
    def of_texts(cls, texts: Sequence[str]) -> LexicalIndex:
        counts = TermCounts.of(texts)
        return cls([(counts, np.arange(len(texts)))])

    def idf(self, t: str) -> float:
        """Lucene's BM25 idf; a term no text holds gets the highest weight of all."""
        i = self.vocab.get(t)
        df = 0 if i is None else int(self.df[i])
        return float(np.log(1 + (self.size - df + 0.5) / (df + 0.5)))

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 score, idf-weighted share of the query's terms it contains) for every text."""
        q = list(dict.fromkeys(terms(query)))
        bm25 = np.zeros(self.size, np.float32)
        coverage = np.zeros(self.size, np.float32)
        if not q:
            return bm25, coverage
        total = sum(self.idf(t) for t in q)
        for t in q:
            i = self.vocab.get(t)
            if i is None or not self.df[i]:
                continue
            span = slice(self._ptr[i], self._ptr[i + 1])
            rows, tf = self._rows[span], self._tf[span].astype(np.float32)
            idf = self.idf(t)
            bm25[rows] += idf * tf / (self._norm[rows] + tf)
            coverage[rows] += idf / total
        return bm25, coverage


def release_freed_memory() -> None:
    """Give the temporaries' memory back to the system (glibc keeps freed heap otherwise, and
    the process would look as large as its peak)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do
