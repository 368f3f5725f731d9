"""BM25 over Arabic- and English-aware terms: the lexical half of hybrid retrieval.

A term is a word folded the way Arabic search engines fold it (qa.text.normalize), its
conjunction prefix (و/ف before ال, بال, لل...) taken off, and then stemmed by Snowball: the
Arabic stemmer for Arabic words, the English one for Latin words. Frequent function words
(question words, particles) are not terms: they say nothing about which passage answers.
"""

from __future__ import annotations

import bisect
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

    KEYS = ("vocab", "indptr", "ids", "counts")  # what `arrays` saves

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


class _Sorted:
    """Sorted UTF-8 terms in one blob, as a sequence that `bisect` can search."""

    def __init__(self, blob: bytes, offsets: np.ndarray) -> None:
        self.blob, self.offsets = blob, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1]]

    def find(self, key: bytes) -> int | None:
        i = bisect.bisect_left(self, key)
        return i if i < len(self) and self[i] == key else None


@dataclass(frozen=True)
class Postings:
    """A block's texts by term: for each term (sorted by its UTF-8 bytes), the rows that hold
    it and how often, and each row's length in terms. A segment saves them beside its term
    counts, so that start-up reads postings instead of sorting every term of the collection,
    and a term is found by bisection in the saved blob, with no dictionary to build."""

    terms: bytes  # the sorted terms, UTF-8, one after the other
    offsets: np.ndarray  # int64 (terms + 1): term i is terms[offsets[i]:offsets[i + 1]]
    ptr: np.ndarray  # int64 (terms + 1): term i's postings are [ptr[i], ptr[i + 1])
    rows: np.ndarray  # int32: the block's rows, by term, then by row
    tf: np.ndarray  # uint16: occurrences of the term in the row
    lengths: np.ndarray  # float32 per row: its number of terms

    KEYS = ("terms", "offsets", "ptr", "rows", "tf", "lengths")

    @classmethod
    def of(cls, counts: TermCounts) -> Postings:
        keys = [t.encode("utf-8") for t in counts.vocab]
        rank = sorted(range(len(keys)), key=keys.__getitem__)
        new_id = np.empty(len(keys), np.int64)
        new_id[rank] = np.arange(len(keys))
        ids = new_id[counts.ids]
        order = np.argsort(ids, kind="stable")
        per_row = np.diff(counts.indptr)
        local = np.repeat(np.arange(len(per_row), dtype=np.int32), per_row)
        ordered = [keys[i] for i in rank]
        return cls(
            terms=b"".join(ordered),
            offsets=np.concatenate([[0], np.cumsum([len(k) for k in ordered])]).astype(np.int64),
            ptr=np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=len(keys)))]).astype(
                np.int64
            ),
            rows=local[order],
            tf=np.minimum(counts.counts, np.iinfo(np.uint16).max).astype(np.uint16)[order],
            lengths=np.bincount(local, counts.counts, minlength=len(per_row)).astype(np.float32),
        )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_sorted", _Sorted(self.terms, self.offsets))

    def of_term(self, t: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows, occurrences) of term `t` in this block."""
        i = self._sorted.find(t.encode("utf-8"))
        if i is None:
            return _NO_ROWS, _NO_TF
        span = slice(self.ptr[i], self.ptr[i + 1])
        return self.rows[span], self.tf[span]

    def arrays(self) -> dict[str, np.ndarray]:
        """What a segment saves (beside its TermCounts' arrays), keys prefixed `postings-`."""
        terms = np.frombuffer(self.terms, np.uint8)
        return {f"postings-{k}": terms if k == "terms" else getattr(self, k) for k in self.KEYS}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Postings:
        got = {k: arrays[f"postings-{k}"] for k in cls.KEYS}
        return cls(**{**got, "terms": got["terms"].tobytes()})


_NO_ROWS, _NO_TF = np.zeros(0, np.int32), np.zeros(0, np.uint16)


class LexicalIndex:
    """BM25 (Lucene variant) and the idf-weighted share of the question's terms, per text.

    Searches the postings of blocks of texts (the index's segments), of which the rows that are
    live count, numbered in the order given: a question touches only the texts that hold its
    terms, and nothing is merged or sorted when the index is opened.
    """

    def __init__(self, blocks: Iterable[tuple[Postings, np.ndarray]]) -> None:
        """`blocks`: (postings, the local rows of it that are live, in order); the texts are
        those rows, block after block."""
        # Per block: its postings, and where its rows are among the texts: an offset when
        # every row is live and in order (most segments), else a map with -1 for a dead row.
        self._blocks: list[tuple[Postings, int | np.ndarray]] = []
        lengths = []
        offset = 0
        for postings, take in blocks:
            take = np.asarray(take, np.int64)
            rows = len(postings.lengths)
            if len(take) == rows and (take == np.arange(rows)).all():
                self._blocks.append((postings, offset))
            else:
                to_text = np.full(rows, -1, np.int64)
                to_text[take] = np.arange(offset, offset + len(take))
                self._blocks.append((postings, to_text))
            lengths.append(postings.lengths[take])
            offset += len(take)
        self.size = offset
        length = np.concatenate(lengths) if lengths else np.zeros(0, np.float32)
        average = float(length.mean()) if len(length) and length.mean() > 0 else 1.0
        self._norm = K1 * ((1 - B) + B * length / average)  # per text

    @classmethod
    def of_texts(cls, texts: Sequence[str]) -> LexicalIndex:
        return cls([(Postings.of(TermCounts.of(texts)), np.arange(len(texts)))])

    def _postings(self, t: str) -> tuple[np.ndarray, np.ndarray]:
        """(texts, occurrences) of term `t` over every block, live texts only: one array
        each, as the arithmetic on them is cheaper in one piece than block by block (3x)."""
        texts, tfs = [], []
        for postings, where in self._blocks:
            rows, tf = postings.of_term(t)
            if not len(rows):
                continue
            if isinstance(where, int):
                texts.append(rows + where)
                tfs.append(tf)
            else:
                found = where[rows]
                live = found >= 0
                texts.append(found[live])
                tfs.append(tf[live])
        if len(texts) < 2:
            return (texts[0], tfs[0]) if texts else (_NO_ROWS, _NO_TF)
        return np.concatenate(texts), np.concatenate(tfs)

    @staticmethod
    def _idf(size: int, df: int) -> float:
        """Lucene's BM25 idf; a term no text holds gets the highest weight of all."""
        return float(np.log(1 + (size - df + 0.5) / (df + 0.5)))

    def idf(self, t: str) -> float:
        return self._idf(self.size, len(self._postings(t)[0]))

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 score, idf-weighted share of the query's terms it contains) for every text."""
        q = list(dict.fromkeys(terms(query)))
        bm25 = np.zeros(self.size, np.float32)
        coverage = np.zeros(self.size, np.float32)
        if not q:
            return bm25, coverage
        found = [self._postings(t) for t in q]
        idfs = [self._idf(self.size, len(texts)) for texts, _ in found]
        total = sum(idfs)
        for (texts, tf), idf in zip(found, idfs, strict=True):
            if not len(texts):
                continue
            tf = tf.astype(np.float32)
            bm25[texts] += idf * tf / (self._norm[texts] + tf)
            coverage[texts] += idf / total
        return bm25, coverage


def release_freed_memory() -> None:
    """Give the temporaries' memory back to the system (glibc keeps freed heap otherwise, and
    the process would look as large as its peak)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to do
