"""BM25 over Arabic- and English-aware terms: the lexical half of hybrid retrieval.

A term is a word folded the way Arabic search engines fold it (qa.text.normalize), its
conjunction prefix (و/ف before ال, بال, لل...) taken off, and then stemmed by Snowball: the
Arabic stemmer for Arabic words, the English one for Latin words. Frequent function words
(question words, particles) are not terms: they say nothing about which passage answers.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

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
    """The search terms of `text`, in order, function words left out."""
    return [t for t in map(term, _TOKEN.findall(text)) if t]


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over the terms of a list of texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        corpus = [terms(t) for t in texts]
        self.size = len(corpus)
        self.df: dict[str, int] = {}
        for doc in corpus:
            for t in set(doc):
                self.df[t] = self.df.get(t, 0) + 1
        self.bm25 = bm25s.BM25()
        if any(corpus):
            self.bm25.index(corpus, show_progress=False)

    def idf(self, t: str) -> float:
        """Lucene's BM25 idf; a term no text holds gets the highest weight of all."""
        df = self.df.get(t, 0)
        return float(np.log(1 + (self.size - df + 0.5) / (df + 0.5)))

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 score, idf-weighted share of the query's terms it contains) for every text."""
        q = list(dict.fromkeys(terms(query)))
        bm25 = np.zeros(self.size, np.float32)
        coverage = np.zeros(self.size, np.float32)
        known = [t for t in q if t in self.df]
        if not q:
            return bm25, coverage
        total = sum(self.idf(t) for t in q)
        for t in known:
            s = self.bm25.get_scores([t])
            bm25 += s
            coverage += (s > 0) * (self.idf(t) / total)
        return bm25, coverage
