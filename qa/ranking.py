"""How a candidate passage is scored, and when the best one does not answer: one pure function.

`Weights` holds every tuned constant of ranking and of the "not found" decision, each with
where it came from. `score` and `confidence` turn the features that retrieval measured for a
batch of candidates (`Features`) into numbers. The product (`qa/retrieve.py`, `qa/answer.py`),
`qa eval` and every benchmark call these two functions with a `Weights` value, so what is
measured is what ships. The evaluation-only methods are other `Weights` (`DENSE`, `LEXICAL`),
not branches in the shipped path.

A passage's score (docs/retrieval.md has the measurements behind each term):
  dense     mean(cosine(question, passage), cosine(question, its best sentence)), minus the
            language term: the question's similarity to the mean passage of that passage's
            language relative to the mean of all passages. The model prefers passages in the
            question's language whatever they say; this removes exactly that preference, and in
            a one-language collection it is a constant that changes nothing;
  lexical   for passages in the question's language: the idf-weighted share of the question's
            terms that the passage holds, minus the share that the runner-up holds (standing
            out is what counts, so many weak matches in the question's language cannot push
            down the right passage in another language);
  channels  for passages in another language: each further encoder's dense score (corrected
            the same way) minus its offset, at its weight (`Channel`);
  bm25      the plain BM25 score: used only by the `LEXICAL` comparison method.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Channel:
    """What a further encoder (qa/crosslingual.py) adds to an other-language passage:
    weight x (its corrected dense score - offset)."""

    weight: float
    offset: float


@dataclass(frozen=True)
class Weights:
    """Every tuned constant of ranking and of the "not found" decision, with its provenance.

    "dev" is the XQuAD dev split (questions of articles 0-23); the measurements are in
    docs/retrieval.md and are reproduced by `qa eval` and benchmarks/.
    """

    # Weight of the dense term; 0 only for the lexical comparison method.
    dense: float = 1.0
    # The lexical share against cosines: the dev-best of 0.05-0.3.
    lexical: float = 0.1
    # Plain BM25: not part of the shipped ranking (it over-rewards long same-language passages).
    bm25: float = 0.0
    # USE multilingual on other-language passages. The offset and the weight's scale come from
    # dev, whose best weight is 0.1; half of it ships: XQuAD questions are translations, which
    # flatters an encoder trained on translation pairs, and at 0.1 it overrode e5 on close calls
    # in real news. 0.05 keeps two thirds of the gain.
    channels: Mapping[str, Channel] = field(
        default_factory=lambda: {"use": Channel(weight=0.05, offset=0.1)}
    )
    # A language's mean passage is shrunk toward the mean of all passages as if this many
    # average passages were added: with a handful of passages in a language, their mean is their
    # topic rather than their language.
    language_prior: float = 10.0
    # How many passages each first stage (dense per language, lexical) hands to scoring.
    candidates: int = 100
    # "Not found" when `confidence` of the best hit is below this: fit on dev to refuse 1.5% of
    # the answerable questions (benchmarks/per_question.py).
    not_found_below: float = 0.838
    # What a right answer in another language than the question is allowed for the cosine it
    # loses and the lexical share it cannot have: fit on dev to refuse 1.5% of the answerable
    # questions whose best passage is in the other language.
    cross_lingual_offset: float = 0.085
    # A follow-up this short ("and when did it end?") leans on the previous question, whose
    # vector is added at `context_weight`: the topic carries over, the new question leads.
    follow_up_max_words: int = 6
    context_weight: float = 0.5

    def __hash__(self) -> int:  # `channels` is a dict; hash what identifies the value
        return hash((self.dense, self.lexical, self.bm25, tuple(sorted(self.channels.items()))))


SHIPPED = Weights()
DENSE = replace(SHIPPED, lexical=0.0, channels={})
LEXICAL = replace(SHIPPED, dense=0.0, lexical=0.0, bm25=1.0, channels={})
METHODS: dict[str, Weights] = {"hybrid": SHIPPED, "dense": DENSE, "lexical": LEXICAL}

# Scores this close are a tie, broken by date (`order`): the same text scored twice differs only
# by float32 rounding (about 1e-7 on scores near 1), while two passages that differ in a word
# differ in score by orders of magnitude more. A tie-break, not a change of ranking.
TIE = 1e-6


@dataclass(frozen=True)
class Features:
    """What retrieval measured for a batch of candidates; every array has one entry each."""

    dense: np.ndarray  # cosine(question, passage)
    sentence: np.ndarray  # cosine(question, the passage's best sentence)
    language: np.ndarray  # the language term: question . (language mean - collection mean)
    same_language: np.ndarray  # bool: the passage is in the question's language
    coverage: np.ndarray  # idf share of the question's terms in the passage (0 across languages)
    runner_up: float  # the coverage that a same-language passage which does not answer reaches
    bm25: np.ndarray
    # Per further encoder: its corrected dense score, NaN where it was not computed.
    channels: Mapping[str, np.ndarray] = field(default_factory=dict)


def score(f: Features, w: Weights) -> np.ndarray:
    """The ranking score of each candidate: higher is better."""
    total = w.dense * ((f.dense + f.sentence) / 2 - f.language)
    if w.lexical:
        total = total + np.where(f.same_language, w.lexical * (f.coverage - f.runner_up), 0.0)
    for name, values in f.channels.items():
        channel = w.channels.get(name)
        if channel is not None:
            counts = ~f.same_language & np.isfinite(values)
            total = total + np.where(counts, channel.weight * (values - channel.offset), 0.0)
    if w.bm25:
        total = total + w.bm25 * f.bm25
    return total


def order(scores: np.ndarray, recency: np.ndarray) -> np.ndarray:
    """Indices of `scores`, best first; of scores within TIE of each other, the more recent
    article's first (`recency`: a number that grows with the date, -inf when undated)."""
    by_score = np.argsort(-scores, kind="stable")
    if len(by_score) < 2:
        return by_score
    ranked = scores[by_score]
    tie = np.concatenate([[0], np.cumsum(ranked[:-1] - ranked[1:] > TIE)])
    return by_score[np.lexsort((-recency[by_score], tie))]


def confidence(f: Features, w: Weights) -> np.ndarray:
    """How sure each candidate answers, on one scale for same- and cross-language passages.

    Unlike `score` it has no language term and no runner-up: it compares across questions.
    """
    dense = (f.dense + f.sentence) / 2
    return dense + np.where(f.same_language, w.lexical * f.coverage, w.cross_lingual_offset)
